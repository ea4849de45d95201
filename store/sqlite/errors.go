package sqlite

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// wrap adds context to an unexpected error (nil stays nil). Such errors may
// carry driver text; the HTTP layer logs them and answers a generic 500.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// code returns the extended result code of a driver error, 0 if err is not
// one. Errors are classified by code, never by message text.
func code(err error) sqlite3.ErrNoExtended {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode
	}
	return 0
}

// Constraint violations as the schema raises them. The primary key and the
// name index are the only unique constraints of users and groups, so the
// code alone tells which field conflicts.
func isPrimaryKey(err error) bool { return code(err) == sqlite3.ErrConstraintPrimaryKey }
func isUnique(err error) bool     { return code(err) == sqlite3.ErrConstraintUnique }
func isForeignKey(err error) bool { return code(err) == sqlite3.ErrConstraintForeignKey }
func isCheck(err error) bool      { return code(err) == sqlite3.ErrConstraintCheck }
