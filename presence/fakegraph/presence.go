package fakegraph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxIDs is Graph's documented limit of ids per getPresencesByUserId call.
const maxIDs = 650

// presence is one user's state as the fake holds it.
type presence struct {
	availability, activity string
	seq                    string // sequenceNumber: sorts as it changes
}

// presenceJSON is Graph's presence resource, fields in Graph's order.
type presenceJSON struct {
	Context             string  `json:"@odata.context,omitempty"`
	ID                  string  `json:"id"`
	Availability        string  `json:"availability"`
	Activity            string  `json:"activity"`
	StatusMessage       *string `json:"statusMessage"` // always null here
	OutOfOfficeSettings struct {
		Message       *string `json:"message"`
		IsOutOfOffice bool    `json:"isOutOfOffice"`
	} `json:"outOfOfficeSettings"`
	SequenceNumber string `json:"sequenceNumber"`
	WorkLocation   struct {
		WorkLocationType *string `json:"workLocationType"`
		Source           *string `json:"source"`
		PlaceID          *string `json:"placeId"`
	} `json:"workLocation"`
}

func (p presence) json(id string) presenceJSON {
	v := presenceJSON{ID: id, Availability: p.availability, Activity: p.activity, SequenceNumber: p.seq}
	v.OutOfOfficeSettings.IsOutOfOffice = p.activity == "OutOfOffice"
	return v
}

func (s *Server) presences(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20)) // a cut body fails as malformed JSON
	ids, bad := decodeIDs(body)
	s.mu.Lock()
	s.stats.Requests++
	s.stats.GraphRequests++
	s.stats.IDsRequested += len(ids)
	s.mu.Unlock()

	g := s.graphReply(w, r)
	if !s.admit(g, r) {
		return
	}
	if bad != nil {
		g.error(http.StatusBadRequest, "BadRequest", bad.Error())
		return
	}
	value := make([]presenceJSON, 0, len(ids))
	s.mu.Lock()
	for _, id := range ids {
		id = strings.ToLower(id)
		if p, ok := s.lookup(id); ok {
			value = append(value, p.json(id))
		}
	}
	s.mu.Unlock()
	g.json(http.StatusOK, struct {
		Context string         `json:"@odata.context"`
		Value   []presenceJSON `json:"value"`
	}{"https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.presence)", value})
}

func (s *Server) userPresence(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Requests++
	s.stats.GraphRequests++
	s.mu.Unlock()

	g := s.graphReply(w, r)
	if !s.admit(g, r) {
		return
	}
	id := strings.ToLower(r.PathValue("id"))
	s.mu.Lock()
	p, ok := s.lookup(id)
	s.mu.Unlock()
	if !ok {
		g.error(http.StatusNotFound, "NotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
		return
	}
	v := p.json(id)
	v.Context = "https://graph.microsoft.com/v1.0/$metadata#users('" + id + "')/presence/$entity"
	g.json(http.StatusOK, v)
}

// decodeIDs reads a getPresencesByUserId body. On a limit or GUID error it
// still returns the ids, which count as requested; on malformed JSON, none.
// The messages are the fake's own: Graph documents no text for these.
func decodeIDs(body []byte) ([]string, error) {
	var req struct {
		IDs []string `json:"ids"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields() // OData rejects parameters the action lacks
	if err := dec.Decode(&req); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		return nil, errors.New("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	switch {
	case req.IDs == nil:
		return nil, errors.New("The parameter 'ids' is required.")
	case len(req.IDs) > maxIDs:
		return req.IDs, fmt.Errorf("Too many ids: %d. The maximum is %d.", len(req.IDs), maxIDs)
	}
	for _, id := range req.IDs {
		if !isGUID(id) {
			return req.IDs, fmt.Errorf("Invalid user id '%s'. Ids must be Entra object ids (GUIDs).", id)
		}
	}
	return req.IDs, nil
}

// lookup returns id's presence; s.mu must be held.
func (s *Server) lookup(id string) (presence, bool) {
	if s.deleted[id] {
		return presence{}, false
	}
	if p, ok := s.users[id]; ok {
		return p, true
	}
	if s.autoPresence > 0 && isGUID(id) {
		return autoPresence(id, s.now().Truncate(s.autoPresence)), true
	}
	return presence{}, false
}

// autoStates are the combinations Teams shows most.
var autoStates = [...][2]string{
	{"Available", "Available"},
	{"AvailableIdle", "Available"},
	{"Away", "Away"},
	{"BeRightBack", "BeRightBack"},
	{"Busy", "Busy"},
	{"Busy", "InACall"},
	{"Busy", "InAConferenceCall"},
	{"Busy", "InAMeeting"},
	{"BusyIdle", "Busy"},
	{"DoNotDisturb", "Presenting"},
	{"DoNotDisturb", "DoNotDisturb"},
	{"Offline", "OffWork"},
	{"Offline", "OutOfOffice"},
	{"PresenceUnknown", "PresenceUnknown"},
}

// autoPresence derives a presence from the id and its time bucket alone, so
// two fakes on one clock agree and a test can predict it.
func autoPresence(id string, bucket time.Time) presence {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", id, bucket.UnixNano())
	st := autoStates[h.Sum64()%uint64(len(autoStates))]
	return presence{st[0], st[1], seqString(bucket.UnixNano())}
}

// seqString renders a sequence number so that string order is time order.
func seqString(n int64) string { return fmt.Sprintf("%020d", n) }
