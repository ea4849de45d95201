package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"sort"
	"sync"
	"unsafe"
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

// maxPhoneIndexes bounds how many directories' numbers are held, and
// maxPhoneIndexBytes what they take together (about 13 MB per 100,000
// contacts: two directories of a million fit). The least recently
// searched go first, but never the one just searched. A variable for
// tests.
const maxPhoneIndexes = 4

var maxPhoneIndexBytes int64 = 256 << 20

func newPhoneIndexes(onSize func(int64)) phoneIndexes {
	return phoneIndexes{gens: map[string]uint64{}, entries: map[string]*phoneEntry{}, onSize: onSize}
}

type phoneIndexes struct {
	mu      sync.Mutex
	gens    map[string]uint64 // bumped after a commit changed a directory's numbers
	entries map[string]*phoneEntry
	clock   uint64 // orders entries by last use
	bytes   int64  // the held indexes' size
	onSize  func(int64)
}

type phoneEntry struct {
	mu    sync.Mutex // one build at a time
	ix    *phoneIndex
	used  uint64
	bytes int64 // ix's size, under phoneIndexes.mu
}

// resizeLocked adds delta to the bytes held and reports the new total;
// p.mu is held, so reports come in order.
func (p *phoneIndexes) resizeLocked(delta int64) {
	if delta == 0 {
		return
	}
	p.bytes += delta
	if p.onSize != nil {
		p.onSize(p.bytes)
	}
}

// phoneIndex is one directory's numbers. Its slices hold no pointers, so
// the garbage collector never scans them: a million contacts' index is
// 130 MB, and when it held the owners as a []string every collection
// took 11 ms longer (BenchmarkPhoneIndexGC).
type phoneIndex struct {
	gen    uint64
	digits []byte  // each E.164 number's digits, each followed by '\n'
	starts []int32 // where each number starts in digits
	owners []int32 // whose each number is: an index into idEnds
	ids    []byte  // the owners' ids, one after the other
	idEnds []int32 // where each owner's id ends in ids
	// grams lists, for each run of three digits ("000" to "999"), the
	// numbers that contain it, in order: a search of three digits or
	// more checks only the numbers in the lists of its two rarest runs
	// instead of scanning all. The lists share one array, sized exactly.
	grams [1000][]int32
}

// size is about how many bytes ix holds.
func (ix *phoneIndex) size() int64 {
	grams := 0
	for _, l := range ix.grams {
		grams += cap(l)
	}
	return int64(unsafe.Sizeof(*ix)) + int64(cap(ix.digits)+cap(ix.ids)) +
		4*int64(cap(ix.starts)+cap(ix.owners)+cap(ix.idEnds)+grams)
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

// id returns the id of owner o.
func (ix *phoneIndex) id(o int32) []byte {
	start := int32(0)
	if o > 0 {
		start = ix.idEnds[o-1]
	}
	return ix.ids[start:ix.idEnds[o]]
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
	if e := p.entries[dir]; e != nil {
		p.resizeLocked(-e.bytes)
	}
	delete(p.entries, dir)
	delete(p.gens, dir)
}

// forgetAll drops every index: the DB is closing.
func (p *phoneIndexes) forgetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resizeLocked(-p.bytes)
	clear(p.entries)
}

// phoneIndex returns the directory's index, built or rebuilt if its
// numbers changed since. The generation is read before the numbers are:
// a commit between the two only causes one rebuild more.
func (db *DB) phoneIndex(ctx context.Context, dir string) (*phoneIndex, error) {
	p := &db.phones
	p.mu.Lock()
	p.clock++
	e := p.entries[dir]
	if e == nil {
		e = &phoneEntry{}
		p.entries[dir] = e
		p.evictLocked(e)
	}
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
	p.mu.Lock()
	if p.entries[dir] == e { // not evicted meanwhile
		n := ix.size()
		p.resizeLocked(n - e.bytes)
		e.bytes = n
		p.evictLocked(e)
	}
	p.mu.Unlock()
	return ix, nil
}

// evictLocked drops the least recently used indexes, except keep, until
// both bounds hold.
func (p *phoneIndexes) evictLocked(keep *phoneEntry) {
	for len(p.entries) > maxPhoneIndexes || p.bytes > maxPhoneIndexBytes {
		var oldest string
		for d, e := range p.entries {
			if e != keep && (oldest == "" || e.used < p.entries[oldest].used) {
				oldest = d
			}
		}
		if oldest == "" {
			return
		}
		p.resizeLocked(-p.entries[oldest].bytes)
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
	var user, e164 sql.RawBytes // add copies them
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
func (ix *phoneIndex) add(user, e164 []byte) {
	if n := len(ix.idEnds); n == 0 || !bytes.Equal(ix.id(int32(n-1)), user) {
		ix.ids = append(ix.ids, user...)
		ix.idEnds = append(ix.idEnds, int32(len(ix.ids)))
	}
	ix.starts = append(ix.starts, int32(len(ix.digits)))
	ix.digits = append(append(ix.digits, bytes.TrimPrefix(e164, []byte("+"))...), '\n')
	ix.owners = append(ix.owners, int32(len(ix.idEnds)-1))
}

// finish copies the numbers and ids out of the arrays that add grew
// (up to twice their size) and lists the numbers of each run of three
// digits: it counts them first, so that the lists share one array of the
// exact size. size then tells what the index holds.
func (ix *phoneIndex) finish() {
	ix.digits, ix.starts, ix.owners = slices.Clone(ix.digits), slices.Clone(ix.starts), slices.Clone(ix.owners)
	ix.ids, ix.idEnds = slices.Clone(ix.ids), slices.Clone(ix.idEnds)
	var counts [1000]int
	total := 0
	ix.eachGram(func(g, _ int) { counts[g]++; total++ })
	all := make([]int32, total)
	for g, c := range counts {
		ix.grams[g], all = all[:0:c], all[c:]
	}
	ix.eachGram(func(g, k int) { ix.grams[g] = append(ix.grams[g], int32(k)) })
}

// eachGram calls fn for each run of three digits g of each number k, in
// number order, once per number: a run a number holds twice counts once.
func (ix *phoneIndex) eachGram(fn func(g, k int)) {
	var seen [1000]int32 // 1 + the last number that held each run
	for k := range ix.starts {
		num := ix.number(k)
		for i := range num {
			if g := gram(num[i:]); g >= 0 && seen[g] != int32(k)+1 {
				seen[g] = int32(k) + 1
				fn(g, k)
			}
		}
	}
}

// match returns the distinct users with a number containing digits, at
// most max (more reports whether there were more), in the order of their
// numbers.
func (ix *phoneIndex) match(digits string, max int) (users []string, more bool) {
	d := []byte(digits)
	seen := map[int32]bool{}
	add := func(k int) bool {
		if o := ix.owners[k]; !seen[o] {
			if len(users) == max {
				return false
			}
			seen[o] = true
			users = append(users, string(ix.id(o)))
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
