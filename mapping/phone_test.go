package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Valid numbers are libphonenumber's example numbers (fixed line and
// mobile) for each country, so they stay valid with its metadata.
func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, value, policy, region string
		want                        string // E.164 form; "" when refused
		reason                      string // substring of the refusal
	}{
		// strict: valid E.164 from several countries
		{name: "US fixed", value: "+12015550123", want: "+12015550123"},
		{name: "US fiction range", value: "+14255550100", want: "+14255550100"},
		{name: "GB fixed", value: "+441212345678", want: "+441212345678"},
		{name: "GB mobile", value: "+447400123456", want: "+447400123456"},
		{name: "DE fixed", value: "+4930123456", want: "+4930123456"},
		{name: "DE mobile", value: "+4915123456789", want: "+4915123456789"},
		{name: "FR fixed", value: "+33123456789", want: "+33123456789"},
		{name: "FR mobile", value: "+33612345678", want: "+33612345678"},
		{name: "IN fixed", value: "+917410410123", want: "+917410410123"},
		{name: "IN mobile", value: "+918123456789", want: "+918123456789"},
		{name: "AU fixed", value: "+61212345678", want: "+61212345678"},
		{name: "AU mobile", value: "+61412345678", want: "+61412345678"},
		{name: "BR fixed", value: "+551123456789", want: "+551123456789"},
		{name: "BR mobile", value: "+5511961234567", want: "+5511961234567"},
		{name: "JP fixed", value: "+81312345678", want: "+81312345678"},
		{name: "JP mobile", value: "+819012345678", want: "+819012345678"},
		{name: "empty policy is strict", value: "+1 201 555 0123", policy: "", reason: "is not E.164"},

		// strict: refusals
		{name: "strict too short", value: "+1425555", reason: `is too short for +1 (US), e.g. "+14255550100"`},
		{name: "strict too short to parse", value: "+12", reason: "is too short to be a phone number"},
		{name: "strict too long over 15 digits", value: "+12345678901234567", reason: "is too long: E.164 numbers have at most 15 digits"},
		{name: "strict too long for country", value: "+4412123456789", reason: "is too long for +44 (GB)"},
		{name: "strict bad country code", value: "+999123456789", reason: "does not start with a valid country code"},
		{name: "strict country code 0", value: "+0123456789", reason: "country codes never start with 0"},
		{name: "strict letters", value: "+1-800-FLOWERS", reason: "contains letters"},
		{name: "strict invalid area code", value: "+12005550100", reason: "is not a valid number for +1 (US): check the area code"},
		{name: "strict trunk prefix", value: "+4402079460958", reason: `trunk prefix; did you mean "+442079460958"?`},
		{name: "strict spaces", value: "+44 121 234 5678", reason: `no spaces or punctuation; did you mean "+441212345678"?`},
		{name: "strict punctuation", value: "+1 (425) 555-0100", reason: `did you mean "+14255550100"?`},
		{name: "strict national without region", value: "555 1234", reason: `is not E.164 (expected "+" then country code and number, with no spaces or punctuation, e.g. "+14255550100")`},
		{name: "strict national with region: example for it", value: "555 1234", region: "GB", reason: `e.g. "+441212345678"`},
		{name: "strict national with region: suggestion", value: "0121 234 5678", region: "GB", reason: `did you mean "+441212345678"?`},
		{name: "strict national DE", value: "030 123456", region: "DE", reason: `did you mean "+4930123456"?`},
		{name: "strict no digits", value: "+", reason: "is not a phone number"},

		// lenient: formatted and national forms
		{name: "lenient E.164", value: "+447400123456", policy: PhoneLenient, want: "+447400123456"},
		{name: "lenient US formatted", value: "+1 (425) 555-0100", policy: PhoneLenient, want: "+14255550100"},
		{name: "lenient GB spaces", value: "+44 7400 123456", policy: PhoneLenient, want: "+447400123456"},
		{name: "lenient DE national", value: "030 123456", policy: PhoneLenient, region: "DE", want: "+4930123456"},
		{name: "lenient FR national", value: "01 23 45 67 89", policy: PhoneLenient, region: "FR", want: "+33123456789"},
		{name: "lenient IN national", value: "081234 56789", policy: PhoneLenient, region: "IN", want: "+918123456789"},
		{name: "lenient AU national", value: "(02) 1234 5678", policy: PhoneLenient, region: "AU", want: "+61212345678"},
		{name: "lenient BR national", value: "(11) 96123-4567", policy: PhoneLenient, region: "BR", want: "+5511961234567"},
		{name: "lenient JP national", value: "03-1234-5678", policy: PhoneLenient, region: "JP", want: "+81312345678"},
		{name: "lenient GB national", value: "0121 234 5678", policy: PhoneLenient, region: "GB", want: "+441212345678"},
		{name: "lenient international prefix with region", value: "00 44 121 234 5678", policy: PhoneLenient, region: "DE", want: "+441212345678"},
		{name: "lenient international ignores region", value: "+81 90-1234-5678", policy: PhoneLenient, region: "US", want: "+819012345678"},

		// lenient: refusals
		{name: "lenient national without region", value: "0121 234 5678", policy: PhoneLenient, reason: "has no country code and the directory has no defaultRegion"},
		{name: "lenient too short", value: "+1 425 555", policy: PhoneLenient, reason: "is too short for +1 (US)"},
		{name: "lenient too long", value: "+44 7400 123456 999", policy: PhoneLenient, reason: "is too long for +44 (GB)"},
		{name: "lenient far too long", value: "+1 425 555 0100 1234 5678", policy: PhoneLenient, reason: "is too long"},
		{name: "lenient bad country code", value: "+999 123 456 789", policy: PhoneLenient, reason: "does not start with a valid country code"},
		{name: "lenient letters", value: "+1 800 FLOWERS", policy: PhoneLenient, reason: "contains letters"},
		{name: "lenient extension in words", value: "+1 425 555 0100 ext. 5", policy: PhoneLenient, reason: "contains letters"},
		{name: "lenient extension", value: "+14255550100#5", policy: PhoneLenient, reason: "has an extension"},
		{name: "lenient local only", value: "555 1234", policy: PhoneLenient, region: "US", reason: "lacks an area code for +1 (US)"},
		{name: "lenient invalid", value: "+1 200 555 0100", policy: PhoneLenient, reason: "is not a valid number for +1 (US)"},
		{name: "lenient not a number", value: "--", policy: PhoneLenient, region: "US", reason: "is not a phone number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePhone(tt.value, tt.policy, tt.region)
			// A remembered verdict is the one phonenumbers gives.
			if again, err2 := NormalizePhone(tt.value, tt.policy, tt.region); again != got || fmt.Sprint(err2) != fmt.Sprint(err) {
				t.Fatalf("second call = %q, %v; first %q, %v", again, err2, got, err)
			}
			policy := tt.policy
			if policy == "" {
				policy = PhoneStrict
			}
			if raw, err3 := checkPhoneUncached(tt.value, policy, tt.region); raw != got || (err3 == nil) != (err == nil) {
				t.Fatalf("uncached = %q, %v; cached %q, %v", raw, err3, got, err)
			}
			if tt.reason == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tt.value, got, err, tt.want)
				}
				return
			}
			var ref *Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want a *Refusal", tt.value, got, err)
			}
			if got != "" || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("NormalizePhone(%q) = %q, %q; want a refusal containing %q", tt.value, got, err, tt.reason)
			}
			if ref.Value != tt.value || !strings.HasPrefix(err.Error(), `"`) {
				t.Fatalf("refusal %+v does not start with the value %q", ref, tt.value)
			}
		})
	}
}

// TestIsE164 checks IsE164 against the syntax written as a regular
// expression.
func TestIsE164(t *testing.T) {
	syntax := regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	for _, s := range []string{"", "+", "+1", "+14", "+14255550100", "+123456789012345", "+1234567890123456",
		"+04255550100", "14255550100", "+1 425", "+1425555010a", "++1425", "+١٢٣", "+1425\n"} {
		if got, want := IsE164(s), syntax.MatchString(s); got != want {
			t.Errorf("IsE164(%q) = %v, want %v", s, got, want)
		}
	}
}
