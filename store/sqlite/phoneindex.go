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
// one byte string, with the numbers that hold each run of three digits
// (a search checks those in the lists of its two rarest runs; SQLite's
// instr scan of user_phones took tens of milliseconds for 100,000
// contacts' numbers), built from user_phones on first use and again
// after a commit changed the directory's numbers. Deleted and deactivated
// contacts need no rebuild: the search reads their rows anyway, and
// leaves them out.

// maxPhoneIndexes bounds how many directories' numbers are held (about
// 15 MB per 100,000 contacts): the least recently searched go first.
const maxPhoneIndexes = 4

func newPhoneIndexes() phoneIndexes {
	return phoneIndexes{gens: map[string]uint64{}, entries: map[string]*phoneEntry{}}
}

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
	// grams lists, for each run of three digits ("000" to "999"), the
	// numbers that contain it, in order: a search of three digits or
	// more checks only the numbers in the lists of its two rarest runs
	// instead of scanning all.
	grams [1000][]int32
}

// gram returns the index of the three digits b starts with, or -1.
func gram(b []byte) int {
	if len(b) < 3 {
		return -1
	}
	g := 0
	for _, c := range b[:3] {
		if c < '0' || c > '9' {
			return -1
		}
		g = g*10 + int(c-'0')
	}
	return g
}

// number returns the digits of number k.
func (ix *phoneIndex) number(k int) []byte {
	end := len(ix.digits)
	if k+1 < len(ix.starts) {
		end = int(ix.starts[k+1])
	}
	return ix.digits[ix.starts[k] : end-1] // without its '\n'
}

// changed marks the directories' numbers as changed; the committer calls
// it after the commit that changed them.
func (p *phoneIndexes) changed(dirs []string) {
	if len(dirs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
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
		ix.add(user, e164)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("search contacts", err)
	}
	ix.finish()
	return ix, nil
}

// add appends a number; a user's numbers come one after the other.
func (ix *phoneIndex) add(user string, e164 []byte) {
	// Keep one copy of an id that repeats for a contact's numbers.
	if n := len(ix.users); n > 0 && ix.users[n-1] == user {
		user = ix.users[n-1]
	}
	ix.starts = append(ix.starts, int32(len(ix.digits)))
	ix.digits = append(append(ix.digits, bytes.TrimPrefix(e164, []byte("+"))...), '\n')
	ix.users = append(ix.users, user)
}

// finish lists the numbers of each run of three digits.
func (ix *phoneIndex) finish() {
	ix.digits = slices.Clip(ix.digits)
	for k := range ix.starts {
		num := ix.number(k)
		for i := range num {
			// Once per number: a run it holds twice was appended last.
			if g := gram(num[i:]); g >= 0 && (len(ix.grams[g]) == 0 || ix.grams[g][len(ix.grams[g])-1] != int32(k)) {
				ix.grams[g] = append(ix.grams[g], int32(k))
			}
		}
	}
}

// match returns the distinct users with a number containing digits, at
// most max (more reports whether there were more), in the order of their
// numbers.
func (ix *phoneIndex) match(digits string, max int) (users []string, more bool) {
	d := []byte(digits)
	seen := map[string]bool{}
	add := func(k int) bool {
		if u := ix.users[k]; !seen[u] {
			if len(users) == max {
				return false
			}
			seen[u] = true
			users = append(users, u)
		}
		return true
	}
	if gram(d) >= 0 {
		// A number holding d holds each of its runs of three digits: the
		// candidates are the numbers in the lists of both its rarest runs
		// (at a million numbers a list is some 15,000 long, what two
		// share a few dozen). Both lists are in number order, and so is
		// what they share.
		var rarest, second []int32
		for i := 0; ; i++ {
			g := gram(d[i:])
			if g < 0 {
				break
			}
			switch l := ix.grams[g]; {
			case rarest == nil || len(l) < len(rarest):
				rarest, second = l, rarest
			case second == nil || len(l) < len(second):
				second = l
			}
		}
		j := 0
		for _, k := range rarest {
			if second != nil {
				for j < len(second) && second[j] < k {
					j++
				}
				if j == len(second) {
					break
				}
				if second[j] != k {
					continue
				}
			}
			if bytes.Contains(ix.number(int(k)), d) && !add(int(k)) {
				return users, true
			}
		}
		return users, false
	}
	// One or two digits: scan.
	for at := 0; ; {
		i := bytes.Index(ix.digits[at:], d)
		if i < 0 {
			return users, false
		}
		n := sort.Search(len(ix.starts), func(k int) bool { return int(ix.starts[k]) > at+i }) - 1
		if !add(n) {
			return users, true
		}
		if n+1 == len(ix.starts) {
			return users, false
		}
		at = int(ix.starts[n+1]) // the next number
	}
}
