package sqlite

/*
// sqlite3_db_config is mattn/go-sqlite3's copy of SQLite, linked into the
// same binary.
typedef struct sqlite3 sqlite3;
extern int sqlite3_db_config(sqlite3 *, int op, ...);

// scimd_qpsg sets SQLITE_DBCONFIG_ENABLE_QPSG (1007) to set (1 on, 0
// off, -1 unchanged) and returns the setting read back, or -1 on failure.
static int scimd_qpsg(void *db, int set) {
	int on = -1;
	if (sqlite3_db_config((sqlite3 *)db, 1007, set, &on) != 0) return -1;
	return on;
}
*/
import "C"

import (
	"database/sql"
	"errors"
	"reflect"
	"unsafe"

	"github.com/mattn/go-sqlite3"
)

// driverName is mattn/go-sqlite3 with every connection switched to the
// query planner stability guarantee (QPSG).
//
// Why: without QPSG, SQLite marks a statement for re-preparation when a
// bound value might change its plan (a LIMIT ?, an equality on a bound
// value that a join carries over to another table), and mattn clears the
// bindings before each execution, which expires such a statement every
// time: each caller-ID lookup, search and filtered GET was parsed and
// planned again on every call (a third of a lookup's SQLite time). With
// QPSG plans depend only on the SQL text, which is how this package
// writes its queries anyway (index hints where the choice matters).
const driverName = "sqlite3-scimd"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: enableQPSG})
}

func enableQPSG(c *sqlite3.SQLiteConn) error {
	on, err := qpsg(c, 1)
	if err == nil && !on {
		err = errors.New("sqlite: enabling the query planner stability guarantee failed")
	}
	return err
}

// qpsg sets the connection's QPSG setting (set: 1 on, -1 unchanged) and
// reports it. It reads the sqlite3 handle from an unexported field of
// mattn's SQLiteConn: opening a database fails (and so does every test)
// if a new mattn version renames it.
func qpsg(c *sqlite3.SQLiteConn, set int) (bool, error) {
	f := reflect.ValueOf(c).Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Pointer {
		return false, errors.New("sqlite: cannot reach the connection handle of mattn/go-sqlite3 to enable QPSG")
	}
	db := *(*unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	if db == nil {
		return false, errors.New("sqlite: the connection is closed")
	}
	return C.scimd_qpsg(db, C.int(set)) == 1, nil
}
