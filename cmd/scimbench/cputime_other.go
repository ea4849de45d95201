//go:build !unix

package main

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }

// machineCPU is not measured here.
func machineCPU() (time.Duration, bool) { return 0, false }

// diskWritten is not measured here.
func diskWritten() (int64, bool) { return 0, false }

// postmasterOf does not find PostgreSQL here.
func postmasterOf(int) int { return 0 }

// postgresCPU is not measured here.
func postgresCPU(int, string, string) (time.Duration, bool) { return 0, false }
