package server

import (
	"flag"
	"time"
)

// benchLimits turns the lookup API's per-directory limits on in the lookup
// HTTP benchmarks, generous enough never to refuse, so that comparing a
// run with and without shows what the limiter costs a request.
var benchLimits = flag.Bool("benchlimits", false, "lookup HTTP benchmarks: lookup API limits on (1,024 in flight, 10⁹ a second), never refusing")

func applyBenchLimits(c *Config) {
	if *benchLimits {
		c.LookupMaxInFlight, c.LookupRate, c.LimitWait = 1024, 1e9, time.Second
	}
}
