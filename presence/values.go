package presence

import (
	"strings"

	"github.com/google/uuid"
)

// Graph's documented values. Newer documentation pages list them in
// lower camel case; examples and the service use Pascal case. scimd
// serves the Pascal form whatever the casing it received.
var (
	availabilities = canon("Available", "AvailableIdle", "Away", "BeRightBack", "Busy", "BusyIdle",
		"DoNotDisturb", "Offline", "PresenceUnknown")
	activities = canon("Available", "Away", "BeRightBack", "Busy", "DoNotDisturb", "InACall",
		"InAConferenceCall", "Inactive", "InAMeeting", "Offline", "OffWork", "OutOfOffice",
		"PresenceUnknown", "Presenting", "UrgentInterruptionsOnly")
)

func canon(vals ...string) map[string]string {
	m := make(map[string]string, len(vals))
	for _, v := range vals {
		m[strings.ToLower(v)] = v
	}
	return m
}

// normalise returns the Pascal form of a Graph value, and false for a
// value scimd does not know (served as PresenceUnknown, never an error).
func normalise(set map[string]string, v string) (string, bool) {
	if v == "" {
		return "PresenceUnknown", true // null: Graph has no value
	}
	if c, ok := set[strings.ToLower(v)]; ok {
		return c, true
	}
	return "PresenceUnknown", false
}

// objectID returns the canonical (lower-case, hyphenated) form of an Entra
// object id, and false for anything that is not a GUID.
func objectID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
