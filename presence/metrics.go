package presence

import "github.com/prometheus/client_golang/prometheus"

// metrics of the poller. Labels stay bounded: directory ids (few), states
// and status codes; never user ids.
type metrics struct {
	polls         *prometheus.CounterVec // cycles by outcome
	batches       prometheus.Counter
	graphStatus   *prometheus.CounterVec // Graph answers by status code
	throttled     prometheus.Counter
	tokenRequests prometheus.Counter
	changes       prometheus.Counter
	newest        *prometheus.GaugeVec // newest observation per directory
	state         *prometheus.GaugeVec // 1 for a directory's current state
	unknownValues prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_presence_polls_total", Help: "Presence poll cycles by outcome (ok, partial, failed).",
		}, []string{"outcome"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_presence_batches_total", Help: "getPresencesByUserId requests sent.",
		}),
		graphStatus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_presence_graph_responses_total", Help: "Microsoft Graph answers by HTTP status code (0: network error).",
		}, []string{"code"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_presence_throttled_total", Help: "Graph answers 429 (throttled).",
		}),
		tokenRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_presence_token_requests_total", Help: "Token requests to the Microsoft identity platform.",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_presence_changes_total", Help: "Presence changes stored (including clears).",
		}),
		newest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scimd_presence_last_poll_timestamp_seconds",
			Help: "End of the last complete poll cycle per directory: the age of its newest presence is time() minus this.",
		}, []string{"directory"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scimd_presence_connection_state", Help: "1 for the presence connection state of each directory.",
		}, []string{"directory", "state"}),
		unknownValues: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_presence_unknown_values_total", Help: "Availability or activity values scimd does not know (stored as PresenceUnknown).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.polls, m.batches, m.graphStatus, m.throttled, m.tokenRequests, m.changes, m.newest, m.state, m.unknownValues)
	}
	return m
}

var states = []string{"connected", "needs_consent", "needs_admin", "revoked", "error"}

func (m *metrics) setState(directoryID, state string) {
	for _, s := range states {
		v := 0.0
		if s == state {
			v = 1
		}
		m.state.WithLabelValues(directoryID, s).Set(v)
	}
}
