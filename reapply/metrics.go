package reapply

import "github.com/prometheus/client_golang/prometheus"

// metrics of the runner; no labels: what a job did per directory is in
// GET …/mapping.
type metrics struct {
	users   prometheus.Counter // rebuilt: written, unchanged or refused
	refused prometheus.Counter
	batches prometheus.Counter
	jobs    prometheus.Counter // finished
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		users: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_reapply_users_total", Help: "Users whose contacts a rules re-application rebuilt (rewritten, unchanged or refused).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_reapply_refused_total", Help: "Users a rules re-application found refused by the new rules (kept, and logged as Failed).",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_reapply_batches_total", Help: "Batches (transactions) of rules re-applications written.",
		}),
		jobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimd_reapply_jobs_finished_total", Help: "Rules re-applications finished.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.users, m.refused, m.batches, m.jobs)
	}
	return m
}
