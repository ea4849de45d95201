package store

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Change events: every committed write of a directory's contacts and
// groups records what it changed, in its own transaction, as Events
// numbered per directory in commit order. The store records what changed
// as the lookup API would show it (ContactState, GroupState), before and
// after; which of those a client may see (visibility rules) and the
// event's public type are decided when the event is read, so that a change
// of the rules applies to the feed at once, as to searches.
//
// Backends record events in their write paths (users, groups, members),
// comparing the state before and after each write: a write that changes
// nothing the lookup API shows (Entra's PATCH that repeats the stored
// values) records nothing, and a write that does not commit records
// nothing either.

// EventStore is the part of Store that reads recorded events.
type EventStore interface {
	// EventsEnabled reports whether writes record events (a backend
	// option, SCIMD_EVENTS): when not, the readers below find none.
	EventsEnabled() bool
	// ListEvents returns up to limit of the directory's events whose Seq
	// is above after, in commit order, and the oldest Seq the directory
	// still holds (0 when it holds none): after below oldest-1 means
	// that events the caller has not seen were pruned.
	ListEvents(ctx context.Context, directoryID string, after int64, limit int) ([]Event, int64, error)
	// LatestEvent returns the Seq of the directory's newest event, 0 if
	// it has none.
	LatestEvent(ctx context.Context, directoryID string) (int64, error)
	// PruneEvents deletes every directory's events recorded before
	// before, but never a directory's newest (so that LatestEvent and the
	// numbering go on), and returns how many it deleted.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
	// WatchEvents returns a channel that receives a value soon after
	// events of the directory commit, on any process sharing the store,
	// and sometimes when none did (a resync): the watcher then reads
	// ListEvents again. The function ends the watch.
	WatchEvents(directoryID string) (<-chan struct{}, func())
}

// ChangeEvents is the Change a Shared backend sends for committed change
// events (Seq: the newest); backends hand it to WatchEvents rather than to
// the Changes feed.
const ChangeEvents ChangeKind = "events"

// Event kinds as recorded. Readers derive the public type from the kind
// and which of the before and after states are visible to them.
const (
	// EventContact: a user's contact changed. Before is nil for a
	// created user, After for a deleted one.
	EventContact = "contact"
	// EventGroup: a group changed. GroupBefore is nil for a created
	// group, GroupAfter for a deleted one.
	EventGroup = "group"
	// EventMemberAdded: the user After became a member of GroupAfter
	// (After is the member's state with the membership).
	EventMemberAdded = "member_added"
	// EventMemberRemoved: the user Before stopped being a member of
	// GroupBefore (Before is its state while still a member). A group's
	// delete records no member removals: the group's event says it.
	EventMemberRemoved = "member_removed"
)

// Event is one recorded change.
type Event struct {
	DirectoryID string
	Seq         int64     // assigned by the store: 1, 2, ... per directory, in commit order
	Time        time.Time // assigned by the store: the write's transaction time
	Kind        string    // EventContact, ...
	// ResourceID is the user's id (EventContact) or the group's.
	ResourceID              string
	Before, After           *ContactState
	GroupBefore, GroupAfter *GroupState
}

// ContactState is a user as the lookup API shows it, without presence:
// what change events compare and carry.
type ContactState struct {
	ID       string   `json:"id"`
	UserName string   `json:"userName"`
	Active   bool     `json:"active"`
	Contact  Contact  `json:"contact"`
	Groups   []string `json:"groups,omitempty"` // display names, SortGroupNames order
}

// GroupState is a group as the lookup API shows it.
type GroupState struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// StateOf returns u's state with the display names of its groups, which
// it sorts.
func StateOf(u User, groups []string) *ContactState {
	SortGroupNames(groups)
	if len(groups) == 0 {
		groups = nil
	}
	return &ContactState{ID: u.ID, UserName: u.UserName, Active: u.Active, Contact: u.Contact, Groups: groups}
}

// GroupNames returns the display names of gs.
func GroupNames(gs []GroupState) []string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.DisplayName
	}
	return names
}

// SortGroupNames sorts group names as ContactRecord.Groups are:
// case-insensitively, then exactly.
func SortGroupNames(names []string) {
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(Fold(a), Fold(b)), cmp.Compare(a, b)) })
}

// ContactEvent returns the event of a user's change from before to after
// (nil: absent), and false when the lookup API would show no difference.
func ContactEvent(before, after *ContactState) (Event, bool) {
	if before == nil && after == nil || before != nil && after != nil && sameJSON(before, after) {
		return Event{}, false
	}
	e := Event{Kind: EventContact, Before: before, After: after}
	if after != nil {
		e.ResourceID = after.ID
	} else {
		e.ResourceID = before.ID
	}
	return e, true
}

// GroupEvent returns the event of a group's change from before to after
// (nil: absent), and false when the lookup API would show no difference.
func GroupEvent(before, after *GroupState) (Event, bool) {
	if before == nil && after == nil || before != nil && after != nil && *before == *after {
		return Event{}, false
	}
	e := Event{Kind: EventGroup, GroupBefore: before, GroupAfter: after}
	if after != nil {
		e.ResourceID = after.ID
	} else {
		e.ResourceID = before.ID
	}
	return e, true
}

// MembershipEvents returns the events of a write to one group, in the
// order a client can apply them: the group's own event first (last when
// it is deleted); then, per user in id order, a removal before the user's
// contact event (which may say the contact left the visible set) and an
// addition after it (which may say it entered).
//
// before and after hold the states of every user the write may have
// changed (members added or removed; every member when the group was
// renamed or deleted), keyed by id; a user absent from after was not
// changed. was and is tell which of them were members before the write
// and are after it.
func MembershipEvents(g0, g1 *GroupState, before, after map[string]*ContactState, was, is map[string]bool) []Event {
	var evs []Event
	gev, gchanged := GroupEvent(g0, g1)
	if gchanged && g1 != nil {
		evs = append(evs, gev)
	}
	ids := make([]string, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b, a := before[id], after[id]
		if a == nil {
			continue
		}
		if was[id] && !is[id] && g0 != nil && g1 != nil {
			evs = append(evs, Event{Kind: EventMemberRemoved, ResourceID: g0.ID, Before: b, GroupBefore: g0})
		}
		if ev, ok := ContactEvent(b, a); ok {
			evs = append(evs, ev)
		}
		if !was[id] && is[id] && g1 != nil {
			evs = append(evs, Event{Kind: EventMemberAdded, ResourceID: g1.ID, After: a, GroupAfter: g1})
		}
	}
	if gchanged && g1 == nil {
		evs = append(evs, gev)
	}
	return evs
}

// UserDeleteEvents returns the events of a user's delete: its removal
// from each of its groups, then the contact's.
func UserDeleteEvents(before *ContactState, groups []GroupState) []Event {
	evs := make([]Event, 0, len(groups)+1)
	for i := range groups {
		evs = append(evs, Event{Kind: EventMemberRemoved, ResourceID: groups[i].ID, Before: before, GroupBefore: &groups[i]})
	}
	ev, _ := ContactEvent(before, nil)
	return append(evs, ev)
}

// eventPayload is how backends store an event's states.
type eventPayload struct {
	Before      *ContactState `json:"before,omitempty"`
	After       *ContactState `json:"after,omitempty"`
	GroupBefore *GroupState   `json:"groupBefore,omitempty"`
	GroupAfter  *GroupState   `json:"groupAfter,omitempty"`
}

// Payload encodes e's states for storage.
func (e Event) Payload() ([]byte, error) {
	return json.Marshal(eventPayload{Before: e.Before, After: e.After, GroupBefore: e.GroupBefore, GroupAfter: e.GroupAfter})
}

// SetPayload decodes what Payload encoded into e's states.
func (e *Event) SetPayload(b []byte) error {
	var p eventPayload
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	e.Before, e.After, e.GroupBefore, e.GroupAfter = p.Before, p.After, p.GroupBefore, p.GroupAfter
	return nil
}

// sameJSON reports whether a and b encode alike: contacts decoded from
// storage and contacts just mapped differ in Go (nil and empty slices,
// number types) where their JSON does not.
func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// GroupReader reads, within a backend's write transaction, what a group
// write's events compare: which users are members of the group (every
// member when ids is nil) and the states of users (those of ids that
// exist).
type GroupReader interface {
	Members(ids []string) (map[string]bool, error)
	States(ids []string) (map[string]*ContactState, error)
}

// GroupWrite follows one write to a group for its events: BeginGroupWrite
// reads the states the write may change, before its statements; Finish
// derives the states after them (a group write changes only memberships
// and the group's name) and returns the events.
type GroupWrite struct {
	g0     *GroupState
	ops    []MemberOp
	before map[string]*ContactState
	was    map[string]bool
}

// BeginGroupWrite starts following a write to the group g0 (nil when it
// is created) by ops (a create's initial members are one MembersAdd; a
// delete is MembersRemoveAll), renamed when the write changes the
// group's name. It reads the members ops name and, after a rename or with
// MembersRemoveAll, every member.
func BeginGroupWrite(r GroupReader, g0 *GroupState, ops []MemberOp, renamed bool) (*GroupWrite, error) {
	w := &GroupWrite{g0: g0, ops: ops}
	all := renamed
	var ids []string
	for _, op := range ops {
		all = all || op.Kind == MembersRemoveAll
		ids = append(ids, op.UserIDs...)
	}
	var every map[string]bool
	var err error
	if all && g0 != nil {
		if every, err = r.Members(nil); err != nil {
			return nil, err
		}
	}
	seen := make(map[string]bool, len(ids)+len(every))
	var candidates []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			candidates = append(candidates, id)
		}
	}
	for id := range every {
		if !seen[id] {
			seen[id] = true
			candidates = append(candidates, id)
		}
	}
	if len(candidates) == 0 {
		w.was, w.before = map[string]bool{}, map[string]*ContactState{}
		return w, nil
	}
	if every != nil {
		w.was = every
	} else if g0 == nil {
		w.was = map[string]bool{}
	} else if w.was, err = r.Members(candidates); err != nil {
		return nil, err
	}
	if w.before, err = r.States(candidates); err != nil {
		return nil, err
	}
	return w, nil
}

// Finish returns the events of the write, once its statements succeeded,
// g1 being the group after it (nil when deleted).
func (w *GroupWrite) Finish(g1 *GroupState) []Event {
	is := make(map[string]bool, len(w.was))
	for id, m := range w.was {
		is[id] = m
	}
	for _, op := range w.ops {
		switch op.Kind {
		case MembersAdd:
			for _, id := range op.UserIDs {
				is[id] = true
			}
		case MembersRemove:
			for _, id := range op.UserIDs {
				delete(is, id)
			}
		case MembersRemoveAll:
			clear(is)
		}
	}
	if g1 == nil {
		clear(is)
	}
	after := make(map[string]*ContactState, len(w.before))
	for id, b := range w.before {
		a := *b
		groups := slices.Clone(b.Groups)
		if w.was[id] && w.g0 != nil {
			if i := slices.Index(groups, w.g0.DisplayName); i >= 0 {
				groups = slices.Delete(groups, i, i+1)
			}
		}
		if is[id] {
			groups = append(groups, g1.DisplayName)
		}
		SortGroupNames(groups)
		if len(groups) == 0 {
			groups = nil
		}
		a.Groups = groups
		after[id] = &a
	}
	return MembershipEvents(w.g0, g1, w.before, after, w.was, is)
}
