package sqlite

import (
	"fmt"
	"strings"

	"github.com/scimd/scimd/store"
)

// minScanDigits is the shortest input whose matches are rare enough for a
// scan of the phones to lead: a given digit is in most numbers, a given
// three are in about one in a hundred.
const minScanDigits = 3

// digitsFilter matches contacts with a phone whose E.164 digits contain
// the digits of the input.
//
// "Contains" has no index in SQLite: the lead scans the directory's rows
// of user_phones (about 20 ms for 160,000 numbers on the benchmark
// machine; O(numbers)). The alternatives cost writes, the bottleneck of
// Entra's initial sync: an index of reversed digits answers only "ends
// with" (a different contract), and a table of every suffix of every
// number, which would answer "contains" as a prefix range, writes about
// ten rows per number into random places of an index. Short inputs match
// most contacts, so they walk the sort order instead and fill a page
// quickly.
func digitsFilter(directoryID, digits string) (filter, error) {
	d := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, digits)
	if d == "" {
		return filter{}, fmt.Errorf("%w: a phone search needs digits", store.ErrInvalidFilter)
	}
	f := filter{
		probe: `EXISTS (SELECT 1 FROM user_phones p WHERE p.directory_id = u.directory_id AND p.user_id = u.id
			AND instr(p.e164, ?) > 0)`,
		probeArgs: []any{d},
	}
	if len(d) >= minScanDigits {
		f.lead = `SELECT p.user_id, NULL AS sort_name FROM user_phones p WHERE p.directory_id = ? AND instr(p.e164, ?) > 0`
		f.leadArgs = []any{directoryID, d}
		f.scan = true
	}
	return f, nil
}
