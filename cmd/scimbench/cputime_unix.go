//go:build unix

package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used, all
// threads together: scimd's and the client's in-process, including
// SQLite's C code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// userHZ is the unit of /proc/stat: USER_HZ, 100 on every Linux
// architecture Go supports.
const userHZ = 100

// machineCPU is the CPU time every process of the machine has used, and
// the time the hypervisor took from it (user, nice, system, irq,
// softirq, steal in /proc/stat); false where there is no /proc/stat.
func machineCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, true
}

// diskWritten is how many bytes the process has caused to be written to
// storage (write_bytes in /proc/self/io: WAL frames, checkpoints, the
// ceilings' file); false where there is no /proc/self/io.
func diskWritten() (int64, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// procStat reads a process's parent and CPU times from /proc/<pid>/stat:
// its own (utime, stime) and its waited-for children's (cutime, cstime).
func procStat(pid int) (comm string, ppid int, cpu time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')') // the name may hold spaces and parentheses
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	f := strings.Fields(s[end+1:]) // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
	if len(f) < 15 {
		return "", 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return "", 0, 0, false
	}
	var ticks int64
	for _, v := range f[11:15] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", 0, 0, false
		}
		ticks += n
	}
	return s[open+1 : end], ppid, time.Duration(ticks) * time.Second / userHZ, true
}

// postmasterOf is the pid of the PostgreSQL server whose backend is pid,
// or 0 if pid is not a PostgreSQL backend of this machine.
func postmasterOf(pid int) int {
	comm, ppid, _, ok := procStat(pid)
	if !ok || comm != "postgres" {
		return 0
	}
	if comm, _, _, ok := procStat(ppid); !ok || comm != "postgres" {
		return 0
	}
	return ppid
}

// postgresCPU is the CPU time of the PostgreSQL server processes that
// work for database db: its backends (and their parallel workers and
// autovacuum workers), read from their titles ("postgres: [cluster: ]user
// db host(port) state"), and the server's shared processes (WAL writer,
// checkpointer, background writer, ...), which work for every database.
// Other databases' backends are left out, and so are exited processes
// (the postmaster's children's time), which may be anyone's: a backend of
// db that exits within a phase takes its time along. It counts in the
// 10 ms ticks of /proc.
func postgresCPU(postmaster int, cluster, db string) (time.Duration, bool) {
	if _, _, _, ok := procStat(postmaster); !ok {
		return 0, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	type proc struct {
		pid   int
		title string
		cpu   time.Duration
	}
	var children []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		_, ppid, cpu, ok := procStat(pid)
		if !ok || ppid != postmaster {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		title, _, _ := strings.Cut(string(b), "\x00")
		title = strings.TrimSpace(strings.TrimPrefix(title, "postgres: "))
		if cluster != "" {
			title = strings.TrimPrefix(title, cluster+": ")
		}
		children = append(children, proc{pid, title, cpu})
	}
	ours := map[int]bool{}
	var total time.Duration
	for _, c := range children {
		f := strings.Fields(c.title)
		switch {
		case len(f) >= 2 && f[1] == db, // a backend: user db host(port) state
			len(f) == 3 && f[0] == "autovacuum" && f[1] == "worker" && f[2] == db:
			ours[c.pid] = true
			total += c.cpu
		case sharedPostgresProcess(c.title):
			total += c.cpu
		}
	}
	for _, c := range children {
		if pid, ok := strings.CutPrefix(c.title, "parallel worker for PID "); ok {
			if n, err := strconv.Atoi(strings.Fields(pid + " x")[0]); err == nil && ours[n] {
				total += c.cpu
			}
		}
	}
	return total, true
}

// sharedPostgresProcess reports whether a server process's title is one
// of the processes that work for every database.
func sharedPostgresProcess(title string) bool {
	for _, p := range []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher",
		"logical replication launcher", "archiver", "stats collector", "startup", "walsender", "walreceiver"} {
		if title == p || strings.HasPrefix(title, p+" ") {
			return true
		}
	}
	return false
}
