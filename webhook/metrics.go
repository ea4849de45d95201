package webhook

import "github.com/prometheus/client_golang/prometheus"

// metrics of the deliveries. Labels stay bounded: outcomes only.
type metrics struct {
	attempts *prometheus.CounterVec // by outcome
	disabled *prometheus.CounterVec // webhooks disabled by scimd, by reason
}

// Attempt outcomes.
const (
	outcomeDelivered = "delivered"
	outcomeFailed    = "failed"  // no answer, 3xx, 408, 429, 5xx, or not signed
	outcomeRefused   = "refused" // another 4xx
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_webhook_attempts_total", Help: "Webhook delivery attempts by outcome (delivered, failed, refused: a 4xx).",
		}, []string{"outcome"}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimd_webhook_disabled_total", Help: "Webhooks scimd disabled, by reason (gave_up, events_pruned).",
		}, []string{"reason"}),
	}
	for _, o := range []string{outcomeDelivered, outcomeFailed, outcomeRefused} {
		m.attempts.WithLabelValues(o)
	}
	for _, r := range []string{"gave_up", "events_pruned"} {
		m.disabled.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.attempts, m.disabled)
	}
	return m
}
