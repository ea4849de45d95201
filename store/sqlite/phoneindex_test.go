package sqlite

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
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
			ix.add(user, []byte(b.String()))
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

// BenchmarkPhoneIndexMatch searches six digits among the numbers of a
// directory of a million contacts (1.5 numbers each, US numbers in a
// few area codes, as scimbench's).
func BenchmarkPhoneIndexMatch(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	ix := &phoneIndex{}
	var inputs []string
	for u := range 1_000_000 {
		user := fmt.Sprintf("u%07d", u)
		for range 1 + u%2 {
			e := fmt.Sprintf("+1%03d555%04d", 201+r.IntN(8)*100, r.IntN(10000))
			ix.add(user, []byte(e))
			if u%1000 == 0 {
				inputs = append(inputs, e[len(e)-6:])
			}
		}
	}
	ix.finish()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ix.match(inputs[i%len(inputs)], leadCap)
	}
}
