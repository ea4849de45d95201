package mapping

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// IsE164 reports whether s has E.164's syntax, the strict policy's: "+",
// a country code that does not start with 0, at most 15 digits in all.
// It does not say that the number is valid (NormalizePhone does).
func IsE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fallbackExample is the example shown when no country can be guessed
// (a valid US number in the range reserved for fiction).
const fallbackExample = "+14255550100"

const expectE164 = `expected "+" then country code and number, with no spaces or punctuation`

// ValidRegion reports whether code (upper case) is an ISO 3166-1 alpha-2
// region phonenumbers can read national numbers for.
func ValidRegion(code string) bool {
	return phonenumbers.GetSupportedRegions()[code]
}

// NormalizePhone checks a phone number against a policy (PhoneStrict when
// empty) and returns its E.164 form, or a *Refusal (without Attribute)
// saying why not. region is the directory's DefaultRegion: lenient reads
// national formats with it, both policies use it to pick examples. The
// lookup API can use it to normalise a caller's number like the contacts'.
func NormalizePhone(value, policy, region string) (string, error) {
	e, err := checkPhone(value, policy, region)
	if err != nil {
		return "", &Refusal{Value: value, Reason: err.Error()}
	}
	return e, nil
}

// checkPhone returns the E.164 form, or an error whose text completes a
// sentence starting with the value: `is too short for +44 (GB), ...`.
func checkPhone(value, policy, region string) (string, error) {
	if policy != PhoneLenient {
		policy = PhoneStrict
	}
	if len(value) > maxMemoValue {
		return checkPhoneUncached(value, policy, region)
	}
	key := policy + "\x00" + region + "\x00" + value
	memo.RLock()
	v, ok := memo.m[key]
	memo.RUnlock()
	if !ok {
		e, err := checkPhoneUncached(value, policy, region)
		v = verdict{e164: e}
		if err != nil {
			v.reason = err.Error()
		}
		memo.Lock()
		if len(memo.m) >= maxMemo {
			clear(memo.m)
		}
		memo.m[key] = v
		memo.Unlock()
	}
	if v.reason != "" {
		return "", errors.New(v.reason)
	}
	return v.e164, nil
}

// memo remembers recent verdicts, a pure function of their key: Entra
// sends a user's every phone number again on each update, and
// phonenumbers costs about 20µs a number. Bounded by clearing when full.
var memo = struct {
	sync.RWMutex
	m map[string]verdict
}{m: make(map[string]verdict)}

const (
	maxMemo      = 1 << 16
	maxMemoValue = 64 // longer values are not phone numbers worth remembering
)

type verdict struct{ e164, reason string }

func checkPhoneUncached(value, policy, region string) (string, error) {
	if policy == PhoneLenient {
		return lenientPhone(value, region)
	}
	return strictPhone(value, region)
}

func strictPhone(v, region string) (string, error) {
	if !IsE164(v) {
		return "", notE164(v, region)
	}
	num, err := phonenumbers.Parse(v, "")
	if err != nil {
		return "", parseProblem(err, v, region)
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", invalidNumber(num)
	}
	if f := phonenumbers.Format(num, phonenumbers.E164); f != v {
		// e.g. "+4402079460958": a national trunk prefix after the
		// country code; lookups would never match the value as sent.
		return "", fmt.Errorf("is not E.164 (the country code is followed by a trunk prefix; did you mean %q?)", f)
	}
	return v, nil
}

// notE164 explains why a value fails the strict syntax, suggesting its
// E.164 form when the value can be read as a valid number.
func notE164(v, region string) error {
	digits := 0
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			return fmt.Errorf("contains letters (%s, e.g. %q)", expectE164, example(region))
		case r >= '0' && r <= '9':
			digits++
		}
	}
	switch {
	case digits > 15:
		return fmt.Errorf("is too long: E.164 numbers have at most 15 digits (%s, e.g. %q)", expectE164, example(region))
	case digits < 2:
		return fmt.Errorf("is not a phone number (%s, e.g. %q)", expectE164, example(region))
	case strings.HasPrefix(v, "+0"):
		return fmt.Errorf(`is not E.164: country codes never start with 0 (%s, e.g. %q)`, expectE164, example(region))
	}
	if num, err := phonenumbers.Parse(v, region); err == nil && phonenumbers.IsValidNumber(num) && num.GetExtension() == "" {
		return fmt.Errorf("is not E.164 (%s; did you mean %q?)", expectE164, phonenumbers.Format(num, phonenumbers.E164))
	}
	if r := regionOf(v, region); r != "" {
		region = r
	}
	return fmt.Errorf("is not E.164 (%s, e.g. %q)", expectE164, example(region))
}

func lenientPhone(v, region string) (string, error) {
	for _, r := range v {
		if unicode.IsLetter(r) {
			// Vanity numbers and extensions ("ext. 12") have no E.164 form.
			return "", fmt.Errorf("contains letters (only digits, spaces and ( ) - . / punctuation are allowed, e.g. %q)", example(region))
		}
	}
	num, err := phonenumbers.Parse(v, region)
	if err != nil {
		return "", parseProblem(err, v, region)
	}
	if num.GetExtension() != "" {
		return "", fmt.Errorf("has an extension, which E.164 cannot carry (e.g. %q)", example(region))
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", invalidNumber(num)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// parseProblem turns a phonenumbers parse error into a reason.
func parseProblem(err error, v, region string) error {
	international := strings.HasPrefix(strings.TrimLeft(v, " \t("), "+")
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && !international && region == "":
		return fmt.Errorf(`has no country code and the directory has no defaultRegion (write it as "+" then country code and number, e.g. %q, or set defaultRegion in the mapping rules)`, fallbackExample)
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return fmt.Errorf(`does not start with a valid country code (the digits after "+" must begin with an assigned one, e.g. %q)`, example(region))
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return fmt.Errorf("is too long to be a phone number (e.g. %q)", example(region))
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return fmt.Errorf("is too short to be a phone number (e.g. %q)", example(region))
	case errors.Is(err, phonenumbers.ErrNotANumber) && digitCount(v) > 0 && digitCount(v) < 4:
		// phonenumbers reports "+12" as not a number; for an admin it
		// is too short.
		return fmt.Errorf("is too short to be a phone number (e.g. %q)", example(region))
	default:
		return fmt.Errorf("is not a phone number (e.g. %q)", example(region))
	}
}

// invalidNumber explains why a parsed number is not valid for its country.
func invalidNumber(num *phonenumbers.PhoneNumber) error {
	cc := int(num.GetCountryCode())
	region := phonenumbers.GetRegionCodeForCountryCode(cc)
	where := fmt.Sprintf("+%d (%s)", cc, region)
	if region == "ZZ" || region == "001" { // unknown or non-geographic (+800)
		where = fmt.Sprintf("+%d", cc)
	}
	ex := example(region)
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.INVALID_COUNTRY_CODE:
		return fmt.Errorf(`does not start with a valid country code (the digits after "+" must begin with an assigned one, e.g. %q)`, fallbackExample)
	case phonenumbers.TOO_SHORT:
		return fmt.Errorf("is too short for %s, e.g. %q", where, ex)
	case phonenumbers.TOO_LONG:
		return fmt.Errorf("is too long for %s, e.g. %q", where, ex)
	case phonenumbers.INVALID_LENGTH:
		return fmt.Errorf("has the wrong number of digits for %s, e.g. %q", where, ex)
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return fmt.Errorf("lacks an area code for %s (it can only be dialled locally), e.g. %q", where, ex)
	default:
		return fmt.Errorf("is not a valid number for %s: check the area code or prefix, e.g. %q", where, ex)
	}
}

// regionOf guesses the country of a value that starts with a country code.
func regionOf(v, region string) string {
	num, err := phonenumbers.Parse(v, region)
	if err != nil {
		return ""
	}
	r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
	if r == "ZZ" {
		return ""
	}
	return r
}

// example returns an E.164 example number for a region, or a US one.
func example(region string) string {
	if region != "" && region != "US" && region != "ZZ" && region != "001" {
		if n := phonenumbers.GetExampleNumber(region); n != nil {
			return phonenumbers.Format(n, phonenumbers.E164)
		}
	}
	return fallbackExample
}

func digitCount(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}
