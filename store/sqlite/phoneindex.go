package sqlite

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"sync"
)

// Phone search ("contains these digits") has no SQLite index: a table of
// every suffix of every number would answer it, at about ten more index
// writes per number, and writes are the bottleneck of Entra's initial
// sync. Instead each searched directory's numbers are held in memory as
// one byte string that bytes.Index scans (a few milliseconds for 100,000
// contacts' numbers, where SQLite's instr scan of user_phones took tens),
// built from user_phones on first use and again after a commit changed
// the directory's numbers. Deleted and deactivated contacts need no
// rebuild: the search reads their rows anyway, and leaves them out.

// maxPhoneIndexes bounds how many directories' numbers are held (about
// 8 MB per 100,000 contacts): the least recently searched go first.
const maxPhoneIndexes = 4

type phoneIndexes struct {
	mu      sync.Mutex
	gens    map[string]uint64 // bumped after a commit changed a directory's numbers
	entries map[string]*phoneEntry
	clock   uint64 // orders entries by last use
}

type phoneEntry struct {
	mu   sync.Mutex // one build at a time
	ix   *phoneIndex
	used uint64
}

// phoneIndex is one directory's numbers.
type phoneIndex struct {
	gen    uint64
	digits []byte   // each E.164 number's digits, each followed by '\n'
	starts []int32  // where each number starts in digits
	users  []string // whose each number is
}

// changed marks the directories' numbers as changed; the committer calls
// it after the commit that changed them.
func (p *phoneIndexes) changed(dirs []string) {
	if len(dirs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gens == nil {
		p.gens = map[string]uint64{}
	}
	for _, d := range dirs {
		p.gens[d]++
	}
}

// forget drops a deleted directory's index.
func (p *phoneIndexes) forget(dir string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.entries, dir)
	delete(p.gens, dir)
}

// phoneIndex returns the directory's index, built or rebuilt if its
// numbers changed since. The generation is read before the numbers are:
// a commit between the two only causes one rebuild more.
func (db *DB) phoneIndex(ctx context.Context, dir string) (*phoneIndex, error) {
	p := &db.phones
	p.mu.Lock()
	if p.entries == nil {
		p.entries = map[string]*phoneEntry{}
	}
	e := p.entries[dir]
	if e == nil {
		e = &phoneEntry{}
		p.entries[dir] = e
		p.evictLocked()
	}
	p.clock++
	e.used = p.clock
	gen := p.gens[dir]
	p.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ix != nil && e.ix.gen == gen {
		return e.ix, nil
	}
	ix, err := db.buildPhoneIndex(ctx, dir, gen)
	if err != nil {
		return nil, err
	}
	e.ix = ix
	return ix, nil
}

func (p *phoneIndexes) evictLocked() {
	for len(p.entries) > maxPhoneIndexes {
		var oldest string
		for d, e := range p.entries {
			if oldest == "" || e.used < p.entries[oldest].used {
				oldest = d
			}
		}
		delete(p.entries, oldest)
	}
}

func (db *DB) buildPhoneIndex(ctx context.Context, dir string, gen uint64) (*phoneIndex, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT user_id, e164 FROM user_phones INDEXED BY user_phones_user
		WHERE directory_id = ? ORDER BY user_id`, dir)
	if err != nil {
		return nil, wrap("search contacts", err)
	}
	defer rows.Close()
	ix := &phoneIndex{gen: gen}
	var user string
	var e164 []byte
	for rows.Next() {
		if err := rows.Scan(&user, &e164); err != nil {
			return nil, wrap("search contacts", err)
		}
		// Ids repeat for a contact's numbers: keep one copy.
		if n := len(ix.users); n > 0 && ix.users[n-1] == user {
			user = ix.users[n-1]
		}
		ix.starts = append(ix.starts, int32(len(ix.digits)))
		ix.digits = append(append(ix.digits, bytes.TrimPrefix(e164, []byte("+"))...), '\n')
		ix.users = append(ix.users, user)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("search contacts", err)
	}
	ix.digits = slices.Clip(ix.digits)
	return ix, nil
}

// match returns the distinct users with a number containing digits, at
// most max (more reports whether there were more).
func (ix *phoneIndex) match(digits string, max int) (users []string, more bool) {
	d := []byte(digits)
	seen := map[string]bool{}
	for at := 0; ; {
		i := bytes.Index(ix.digits[at:], d)
		if i < 0 {
			return users, false
		}
		n := sort.Search(len(ix.starts), func(k int) bool { return int(ix.starts[k]) > at+i }) - 1
		if u := ix.users[n]; !seen[u] {
			if len(users) == max {
				return users, true
			}
			seen[u] = true
			users = append(users, u)
		}
		if n+1 == len(ix.starts) {
			return users, false
		}
		at = int(ix.starts[n+1]) // the next number
	}
}
