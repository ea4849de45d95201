//go:build race

package main

// raceEnabled: the test binary runs with the race detector, so the README
// test builds scimd with it too, from what `go test -race` compiled.
const raceEnabled = true
