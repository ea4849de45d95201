package sqlite

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimd/scimd/store"
)

// TestPhoneIndexMatch compares the index with the rule itself (the
// users, in the order of their numbers, with a number containing the
// digits) on random numbers and inputs of every length.
func TestPhoneIndexMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type number struct{ user, e164 string }
	var nums []number
	ix := &phoneIndex{}
	for u := range 500 {
		user := fmt.Sprintf("u%03d", u)
		for range 1 + r.IntN(3) {
			// A small alphabet makes repeated runs and shared runs common.
			var b strings.Builder
			b.WriteString("+")
			for range 6 + r.IntN(9) {
				b.WriteByte("0125"[r.IntN(4)])
			}
			nums = append(nums, number{user, b.String()})
			ix.add([]byte(user), []byte(b.String()))
		}
	}
	ix.finish()
	for range 2000 {
		var b strings.Builder
		for range 1 + r.IntN(8) {
			b.WriteByte("0125"[r.IntN(4)])
		}
		d := b.String()
		var want []string
		for _, n := range nums {
			if strings.Contains(n.e164[1:], d) && !slices.Contains(want, n.user) {
				want = append(want, n.user)
			}
		}
		max := []int{1000, len(want), max(len(want)-1, 0)}[r.IntN(3)]
		got, more := ix.match(d, max)
		if wantMore := len(want) > max; wantMore {
			want = want[:max]
			if !more {
				t.Errorf("match(%q, %d): more = false", d, max)
			}
		} else if more {
			t.Errorf("match(%q, %d): more = true", d, max)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("match(%q, %d) = %q, want %q", d, max, got, want)
		}
	}
}

// benchPhoneIndex is the numbers of a directory of a million contacts
// (1.5 numbers each, US numbers in a few area codes, as scimbench's),
// with six-digit searches taken from every thousandth contact.
func benchPhoneIndex() (ix *phoneIndex, inputs []string) {
	r := rand.New(rand.NewPCG(3, 4))
	ix = &phoneIndex{}
	for u := range 1_000_000 {
		user := fmt.Appendf(nil, "%08x-0000-4000-8000-%012x", u, u) // as long as a UUID
		for range 1 + u%2 {
			e := fmt.Sprintf("+1%03d555%04d", 201+r.IntN(8)*100, r.IntN(10000))
			ix.add(user, []byte(e))
			if u%1000 == 0 {
				inputs = append(inputs, e[len(e)-6:])
			}
		}
	}
	ix.finish()
	return ix, inputs
}

// BenchmarkPhoneIndexMatch searches six digits among a million contacts'
// numbers.
func BenchmarkPhoneIndexMatch(b *testing.B) {
	ix, inputs := benchPhoneIndex()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.match(inputs[i%len(inputs)], leadCap)
	}
}

// BenchmarkPhoneIndexGC is a garbage collection while a million
// contacts' numbers are held, and what they take of the heap, beside
// what size reports.
func BenchmarkPhoneIndexGC(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, _ := benchPhoneIndex()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "heap_MB")
	b.ReportMetric(float64(ix.size())/1e6, "size_MB") // what the DB reports
	runtime.KeepAlive(ix)
}

// TestPhoneIndexBytes checks that the DB reports what its phone indexes
// hold as they are built, rebuilt, evicted, forgotten and closed.
func TestPhoneIndexBytes(t *testing.T) {
	ctx := t.Context()
	var reported atomic.Int64
	db := newTestDB(t, Options{PhoneIndexBytes: reported.Store})
	dirs := make([]string, maxPhoneIndexes+1)
	for d := range dirs {
		dirs[d] = fmt.Sprintf("d%d", d)
		seedDirectory(t, db, dirs[d], 10*(d+1))
	}
	// held sums the sizes of the indexes db holds now.
	held := func() int64 {
		db.phones.mu.Lock()
		defer db.phones.mu.Unlock()
		var n int64
		for _, e := range db.phones.entries {
			if e.ix != nil {
				n += e.ix.size()
			}
		}
		return n
	}
	search := func(dir string) {
		t.Helper()
		if _, _, err := db.SearchContacts(ctx, dir, store.ContactQuery{Digits: "7946", Limit: 5}); err != nil {
			t.Fatal(err)
		}
		if got, want := reported.Load(), held(); got != want || got <= 0 {
			t.Fatalf("after a search of %s: reported %d bytes, the indexes hold %d", dir, got, want)
		}
	}

	search(dirs[0])
	one := reported.Load()
	search(dirs[1]) // twice the numbers
	if two := reported.Load() - one; two <= one {
		t.Errorf("a second index of twice the numbers added %d bytes to the first's %d", two, one)
	}
	for _, d := range dirs[2:] { // the last evicts dirs[0], the least recently searched
		search(d)
	}
	for d, dir := range dirs {
		if _, held := db.phones.entries[dir]; held != (d > 0) {
			t.Errorf("index of %s held: %v", dir, held)
		}
	}

	// A write to a directory's numbers rebuilds its index at the next search.
	u := benchUser(1000)
	u.DirectoryID = dirs[4]
	if _, err := db.CreateUser(ctx, u, store.SyncEvent{}); err != nil {
		t.Fatal(err)
	}
	before := reported.Load()
	search(dirs[4])
	if reported.Load() <= before {
		t.Errorf("a rebuilt index with more numbers: %d bytes reported, %d before", reported.Load(), before)
	}

	before = reported.Load()
	if err := db.DeleteDirectory(ctx, dirs[4]); err != nil {
		t.Fatal(err)
	}
	if got, want := reported.Load(), held(); got != want || got >= before {
		t.Errorf("after deleting a directory: reported %d bytes (%d before), the indexes hold %d", got, before, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := reported.Load(); got != 0 {
		t.Errorf("after Close: %d bytes reported, want 0", got)
	}
}

// TestPhoneIndexByteBound checks that the indexes held stay within
// maxPhoneIndexBytes, except the one just searched.
func TestPhoneIndexByteBound(t *testing.T) {
	ctx := t.Context()
	db := newTestDB(t, Options{})
	for d := range 3 {
		dir := fmt.Sprintf("d%d", d)
		seedDirectory(t, db, dir, 20)
	}
	search := func(dir string) {
		t.Helper()
		recs, _, err := db.SearchContacts(ctx, dir, store.ContactQuery{Digits: "79460001", Limit: 5})
		if err != nil || len(recs) != 1 {
			t.Fatalf("search of %s: %d contacts, %v", dir, len(recs), err)
		}
	}
	held := func() []string {
		db.phones.mu.Lock()
		defer db.phones.mu.Unlock()
		return slices.Sorted(maps.Keys(db.phones.entries))
	}

	search("d0")
	one := db.phones.bytes
	defer func(n int64) { maxPhoneIndexBytes = n }(maxPhoneIndexBytes)
	maxPhoneIndexBytes = 2*one + one/2 // two indexes of these directories
	search("d1")
	search("d2")
	if got := held(); !slices.Equal(got, []string{"d1", "d2"}) {
		t.Errorf("held %q, want the two last searched", got)
	}
	maxPhoneIndexBytes = 1 // less than any index
	search("d0")
	if got := held(); !slices.Equal(got, []string{"d0"}) {
		t.Errorf("held %q, want the one just searched only", got)
	}
	if db.phones.bytes != one {
		t.Errorf("%d bytes counted, want %d", db.phones.bytes, one)
	}
}
