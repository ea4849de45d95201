package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Ceiling names, the keys of OpResult.Ratios.
const (
	ceilHTTP     = "http"
	ceilInsert   = "insert"    // SQLite
	ceilSelect   = "select"    // SQLite
	ceilPGInsert = "pg-insert" // PostgreSQL
	ceilPGSelect = "pg-select" // PostgreSQL
)

// ceilingNames are every ceiling, in the order of the reports.
var ceilingNames = []string{ceilHTTP, ceilInsert, ceilSelect, ceilPGInsert, ceilPGSelect}

// Operation names: the rows of the report and the names in the JSON.
const (
	opUserFilterMiss  = "GET /Users?filter=userName (no match)"
	opUserPost        = "POST /Users"
	opUserCreate      = "create user (filter+POST)"
	opGroupFilterMiss = "GET /Groups?filter=displayName (no match)"
	opGroupPost       = "POST /Groups"
	opGroupCreate     = "create group (filter+POST)"
	opMembers         = "PATCH /Groups/{id} (add members)"
	opUserPatch       = "PATCH /Users/{id} (default dialect)"
	opUserGet         = "GET /Users/{id}"
	opUserFilterHit   = "GET /Users?filter=userName (match)"
	opLookup          = "GET /lookup?phone= (caller-ID)"
	opLookupPaced     = "GET /lookup?phone= (caller-ID, paced)"
	opSearchPrefix    = "GET /contacts?q= ("
)

// searchKinds are the kinds of lookup API search, each its own phase.
var searchKinds = []string{"name", "email", "digits"}

// cycle is one run of the Entra cycle against one directory: its state
// (the ids scimd gave) and its results.
type cycle struct {
	b     *bench
	dir   *directory
	size  sizes
	users []string // scimd id of user i; "" if its create failed
	// disabled[i]: user i was disabled by an update, so caller-ID must
	// not expect to find it.
	disabled []bool
	groups   []string
	phases   []*PhaseResult
	// ins and sel are the storage ceilings of the run's backend, to which
	// writes and reads are compared: ceilInsert and ceilSelect (SQLite) or
	// ceilPGInsert and ceilPGSelect.
	ins, sel string
}

// sizes are the bounds of one cycle.
type sizes struct {
	Users       int `json:"users"`
	Groups      int `json:"groups"`
	Members     int `json:"membersPerGroup"`
	Batch       int `json:"membersPerPatch"`
	Updates     int `json:"updates"`
	Reads       int `json:"reads"`
	Lookups     int `json:"lookups"`
	Searches    int `json:"searches"`
	Concurrency int `json:"concurrency"`
}

// addPhase records a finished phase.
func (c *cycle) addPhase(name, what string, planned int, run phaseRun, ops ...*op) *PhaseResult {
	p := phaseOf(name, what, planned, run, ops...)
	c.phases = append(c.phases, p)
	return p
}

// createUsers is Entra's first cycle for users: for each, the matching
// query by userName (no match), then the create.
func (c *cycle) createUsers(ctx context.Context) error {
	b, n := c.b, c.size.Users
	c.users = make([]string, n)
	filter := newOp(opUserFilterMiss, b.opt.concurrency, ceilHTTP, c.sel)
	post := newOp(opUserPost, b.opt.concurrency, c.ins)
	pair := newOp(opUserCreate, b.opt.concurrency, c.ins)
	run, err := b.runPhase(ctx, "users", n, 0, func(w, i int) {
		p := newPerson(b.seed, i)
		var list listTotal
		ok := b.do(ctx, w, filter, http.MethodGet, c.dir.scim(w)+userFilterPath(p.userName), c.dir.scimToken, nil, http.StatusOK, &list)
		if ok && list.n != 0 {
			ok = false
			filter.errors.Add(1)
			b.failure(filter.name, "a user of a new directory matched: totalResults %d", list.n)
		}
		d := lastLatency(filter, w)
		if !ok {
			pair.record(w, d, false)
			return
		}
		var created struct {
			ID string `json:"id"`
		}
		ok = b.do(ctx, w, post, http.MethodPost, c.dir.scim(w)+"/Users", c.dir.scimToken, userBody(p), http.StatusCreated, &created)
		pair.record(w, d+lastLatency(post, w), ok && created.ID != "")
		if ok {
			c.users[i] = created.ID
		}
	})
	c.addPhase("users", "for each user: GET /Users?filter=userName eq (no match), then POST /Users", n, run, filter, post, pair)
	return err
}

// createGroups is Entra's first cycle for groups: the matching query by
// displayName, then the create without members.
func (c *cycle) createGroups(ctx context.Context) error {
	b, n := c.b, c.size.Groups
	c.groups = make([]string, n)
	filter := newOp(opGroupFilterMiss, b.opt.concurrency, ceilHTTP, c.sel)
	post := newOp(opGroupPost, b.opt.concurrency, c.ins)
	pair := newOp(opGroupCreate, b.opt.concurrency, c.ins)
	run, err := b.runPhase(ctx, "groups", n, 0, func(w, i int) {
		g := newGroup(b.seed, i)
		ok := b.do(ctx, w, filter, http.MethodGet, c.dir.scim(w)+groupFilterPath(g.displayName), c.dir.scimToken, nil, http.StatusOK, nil)
		d := lastLatency(filter, w)
		if !ok {
			pair.record(w, d, false)
			return
		}
		var created struct {
			ID string `json:"id"`
		}
		ok = b.do(ctx, w, post, http.MethodPost, c.dir.scim(w)+"/Groups", c.dir.scimToken, groupBody(g), http.StatusCreated, &created)
		pair.record(w, d+lastLatency(post, w), ok && created.ID != "")
		if ok {
			c.groups[i] = created.ID
		}
	})
	c.addPhase("groups", "for each group: GET /Groups?filter=displayName eq (no match), then POST /Groups without members", n, run, filter, post, pair)
	return err
}

// groupMembers are the indexes of group g's members: a run of
// consecutive users, the runs of successive groups spread evenly over
// all users (so 100,000 users in 1,000 groups of 100 are each in one).
func (c *cycle) groupMembers(g int) (first, count int) {
	n := c.size.Users
	count = min(c.size.Members, n)
	step := max(1, n/max(1, c.size.Groups))
	return g * step % n, count
}

// addMembers fills the groups with member PATCHes of at most Batch
// members. Batches go round the groups (the first batch of every group,
// then the second...), so concurrent PATCHes are to different groups.
func (c *cycle) addMembers(ctx context.Context) error {
	b := c.b
	if c.size.Groups == 0 || c.size.Members == 0 {
		return nil
	}
	_, count := c.groupMembers(0)
	batches := (count + c.size.Batch - 1) / c.size.Batch
	n := c.size.Groups * batches
	o := newOp(opMembers, b.opt.concurrency, c.ins)
	run, err := b.runPhase(ctx, "members", n, 0, func(w, i int) {
		g, batch := i%c.size.Groups, i/c.size.Groups
		if c.groups[g] == "" {
			return
		}
		first, count := c.groupMembers(g)
		ids := make([]string, 0, c.size.Batch)
		for k := batch * c.size.Batch; k < min(count, (batch+1)*c.size.Batch); k++ {
			if id := c.users[(first+k)%c.size.Users]; id != "" {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return
		}
		b.do(ctx, w, o, http.MethodPatch, c.dir.scim(w)+"/Groups/"+c.groups[g], c.dir.scimToken, addMembersBody(ids), http.StatusNoContent, nil)
	})
	c.addPhase("members", fmt.Sprintf("PATCH /Groups/{id} adding %d members a request, round the groups", c.size.Batch), n, run, o)
	return err
}

// updateUsers PATCHes a share of the users in Entra's default dialect: a
// tenth of them are disabled ("active": "False"), the others get a new
// title and department.
func (c *cycle) updateUsers(ctx context.Context) error {
	b, n := c.b, c.size.Updates
	c.disabled = make([]bool, c.size.Users)
	if n == 0 {
		return nil
	}
	order := rand.Perm(c.size.Users)[:n]
	for j, i := range order {
		c.disabled[i] = j%10 == 9
	}
	o := newOp(opUserPatch, b.opt.concurrency, c.ins)
	run, err := b.runPhase(ctx, "updates", n, 0, func(w, j int) {
		i := order[j]
		if c.users[i] == "" {
			return
		}
		body := updateBody(newPerson(b.seed, i), j, c.disabled[i])
		b.do(ctx, w, o, http.MethodPatch, c.dir.scim(w)+"/Users/"+c.users[i], c.dir.scimToken, body, http.StatusOK, nil)
	})
	c.addPhase("updates", "PATCH /Users/{id}: Replace title and department, or (one in ten) Replace active \"False\"", n, run, o)
	return err
}

// randomUser is a random user that exists (and, if active, is not
// disabled); -1 when there is none.
func (c *cycle) randomUser(active bool) int {
	for range 100 {
		i := rand.IntN(c.size.Users)
		if c.users[i] != "" && (!active || !c.disabled[i]) {
			return i
		}
	}
	return -1
}

// readUsers reads random users by id, then by userName filter (Entra's
// later cycles), each its own phase.
func (c *cycle) readUsers(ctx context.Context) error {
	b, n := c.b, c.size.Reads
	if n == 0 || c.size.Users == 0 {
		return nil
	}
	byID := newOp(opUserGet, b.opt.concurrency, ceilHTTP, c.sel)
	run, err := b.runPhase(ctx, "read-id", n, b.opt.duration, func(w, _ int) {
		if i := c.randomUser(false); i >= 0 {
			b.do(ctx, w, byID, http.MethodGet, c.dir.scim(w)+"/Users/"+c.users[i], c.dir.scimToken, nil, http.StatusOK, nil)
		}
	})
	c.addPhase("read-id", "GET /Users/{id} of random users", n, run, byID)
	if err != nil || ctx.Err() != nil {
		return err
	}
	byName := newOp(opUserFilterHit, b.opt.concurrency, ceilHTTP, c.sel)
	byName.hitsSet = true
	run, err = b.runPhase(ctx, "read-filter", n, b.opt.duration, func(w, _ int) {
		i := c.randomUser(false)
		if i < 0 {
			return
		}
		var list listTotal
		if b.do(ctx, w, byName, http.MethodGet, c.dir.scim(w)+userFilterPath(newPerson(b.seed, i).userName), c.dir.scimToken, nil, http.StatusOK, &list) && list.n == 1 {
			byName.hits.Add(1)
		}
	})
	c.addPhase("read-filter", "GET /Users?filter=userName eq of random users (one match each)", n, run, byName)
	return err
}

// lookups is caller-ID for the work numbers of random active users;
// every one should find its contact.
func (c *cycle) lookups(ctx context.Context) error {
	b, n := c.b, c.size.Lookups
	if n == 0 || c.size.Users == 0 {
		return nil
	}
	o := newOp(opLookup, b.opt.concurrency, ceilHTTP, c.sel)
	o.hitsSet = true
	run, err := b.runPhase(ctx, "lookups", n, b.opt.duration, func(w, _ int) { c.lookupOne(ctx, w, o) })
	c.addPhase("lookups", "GET /api/v1/directories/{id}/lookup?phone=<E.164> of random active users", n, run, o)
	return err
}

// lookupOne is worker w's caller-ID of a random active user's work
// number, counted as a hit when it finds the contact.
func (c *cycle) lookupOne(ctx context.Context, w int, o *op) {
	b := c.b
	i := c.randomUser(true)
	if i < 0 {
		return
	}
	var a contactsAnswer
	u := c.dir.api(w) + "/lookup?phone=" + url.QueryEscape(newPerson(b.seed, i).phone)
	if b.do(ctx, w, o, http.MethodGet, u, c.dir.apiKey, nil, http.StatusOK, &a) && a.found {
		o.hits.Add(1)
	}
}

// pacedLookups is caller-ID at a steady rate below saturation, as a
// contact centre's calls arrive: at saturation (the lookups phase) every
// request queues behind the -c in flight, so its latency says how busy the
// machine is, not how long a lookup takes. Request i is due at start+i/rate;
// a worker that finds it due late sends it at once and counts it late
// (latency is then measured from the send, so a late count far from zero
// means the rate was too high to be read as unqueued).
func (c *cycle) pacedLookups(ctx context.Context) error {
	b, n := c.b, c.size.Lookups
	if n == 0 || c.size.Users == 0 || b.opt.lookupRate <= 0 {
		return nil
	}
	interval := time.Duration(float64(time.Second) / b.opt.lookupRate)
	o := newOp(opLookupPaced, b.opt.concurrency, ceilHTTP, c.sel)
	o.hitsSet = true
	var once sync.Once
	var start time.Time
	var late atomic.Int64
	run, err := b.runPhase(ctx, "lookups-paced", n, b.opt.duration, func(w, i int) {
		once.Do(func() { start = time.Now() })
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		} else if wait < -time.Millisecond {
			late.Add(1)
		}
		c.lookupOne(ctx, w, o)
	})
	c.addPhase("lookups-paced", fmt.Sprintf("caller-ID as lookups, paced at %g/s; %d sent more than 1 ms late", b.opt.lookupRate, late.Load()), n, run, o)
	return err
}

// searches is type-ahead search, 20 contacts a page, by each kind of q
// in turn: a name prefix, a whole email local part, six phone digits.
func (c *cycle) searches(ctx context.Context) error {
	b := c.b
	if c.size.Searches == 0 || c.size.Users == 0 {
		return nil
	}
	for _, kind := range searchKinds {
		n := max(1, c.size.Searches/len(searchKinds))
		o := newOp(opSearchPrefix+kind+")", b.opt.concurrency, ceilHTTP, c.sel)
		o.hitsSet = true
		run, err := b.runPhase(ctx, "search-"+kind, n, b.opt.duration, func(w, _ int) {
			i := c.randomUser(true)
			if i < 0 {
				return
			}
			var a contactsAnswer
			u := c.dir.api(w) + "/contacts?limit=20&q=" + url.QueryEscape(searchQuery(kind, newPerson(b.seed, i)))
			if b.do(ctx, w, o, http.MethodGet, u, c.dir.apiKey, nil, http.StatusOK, &a) && a.found {
				o.hits.Add(1)
			}
		})
		c.addPhase("search-"+kind, "GET /api/v1/directories/{id}/contacts?limit=20&q=<"+kind+"> of random active users", n, run, o)
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
	return nil
}
