// Core benchmarks for Go goroutines: the peer of bench/core.c.
//
// Usage:  GOMAXPROCS=1 core_go BENCH N K
//
// BENCH, N and K mean what they mean for bench/core.c; one JSON line is
// printed with the same keys. Run with GOMAXPROCS=1 (one thread runs
// goroutines, as one thread runs a simul loop); the program also sets it.
//
//	switch  N goroutines, each calls runtime.Gosched() K times. Gosched is the
//	        closest analogue of simul_yield()/asyncio.sleep(0): it puts the
//	        caller at the back of the run queue and runs the next goroutine.
//	        (A gate makes all N exist before any yields; see bSwitch.)
//	spawn   K rounds of: start N goroutines that only call wg.Done(), then
//	        wg.Wait() (a WaitGroup: Go has no per-goroutine join handle).
//	parked  N goroutines each block receiving from one channel that nobody
//	        sends on; RSS measured; then the channel is closed ("cancel") and
//	        a WaitGroup waits for all of them to return.
//	timers  N goroutines, each calls time.Sleep(random 0..1 ms) K times;
//	        process CPU time (user+sys) over the whole phase, per sleep.
//	        (A gate makes all N exist before any sleeps; see bTimers.)
//
// spawn has no gate: goroutines may run (and finish) while the spawner is
// preempted, so at large N fewer than N are alive at once, unlike simul and
// asyncio, where nothing runs until the spawner waits.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func statusKiB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, key) {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return -1
}

func cpuS() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)*1e-6
}

type res map[string]interface{}

func bSwitch(n, k int) res {
	// Go preempts the spawning goroutine (every ~10 ms), so goroutines
	// started early could yield many times before the last one exists. To
	// time what simul and asyncio time (N tasks all alive, yielding
	// round-robin), each goroutine waits at a gate that the last one to
	// start opens; the clock starts once it is open (close() has made every
	// waiter runnable), so exactly N*K yields are timed.
	var started, finished int
	var t0, t1 time.Time
	var wg sync.WaitGroup
	gate := make(chan struct{})
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started++ // GOMAXPROCS=1: goroutines never run in parallel
			if started == n {
				close(gate)
				t0 = time.Now()
			} else {
				<-gate
			}
			for j := 0; j < k; j++ {
				runtime.Gosched()
			}
			finished++
			if finished == n {
				t1 = time.Now()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	ops := n * k
	wall := t1.Sub(t0).Seconds()
	return res{"ops": ops, "wall_s": wall, "ns_per_switch": wall * 1e9 / float64(ops)}
}

func bSpawn(n, k int) res {
	var wg sync.WaitGroup
	var tspawn, tjoin time.Duration
	t0 := time.Now()
	for r := 0; r < k; r++ {
		a := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() { wg.Done() }()
		}
		b := time.Now()
		wg.Wait()
		c := time.Now()
		tspawn += b.Sub(a)
		tjoin += c.Sub(b)
	}
	wall := time.Since(t0).Seconds()
	ops := float64(n * k)
	return res{"ops": n * k, "wall_s": wall, "ns_per_task": wall * 1e9 / ops,
		"spawn_ns_per_task": float64(tspawn.Nanoseconds()) / ops,
		"join_ns_per_task":  float64(tjoin.Nanoseconds()) / ops}
}

func bParked(n, k int) res {
	block := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	runtime.GC()
	rss0 := statusKiB("VmRSS:")
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-block
			done.Done()
		}()
	}
	t1 := time.Now()
	rss1 := statusKiB("VmRSS:")
	started.Wait() // every goroutine has run up to its receive
	t2 := time.Now()
	rss2 := statusKiB("VmRSS:")
	close(block)
	done.Wait()
	t3 := time.Now()
	fn := float64(n)
	return res{"ops": n, "rss_before_kib": rss0, "rss_spawned_kib": rss1,
		"rss_parked_kib": rss2, "hwm_kib": statusKiB("VmHWM:"),
		"kib_per_task":            float64(rss2-rss0) / fn,
		"spawn_ns_per_task":       float64(t1.Sub(t0).Nanoseconds()) / fn,
		"park_ns_per_task":        float64(t2.Sub(t1).Nanoseconds()) / fn,
		"cancel_join_s":           t3.Sub(t2).Seconds(),
		"cancel_join_ns_per_task": float64(t3.Sub(t2).Nanoseconds()) / fn}
}

func bTimers(n, k int) res {
	// As in bSwitch, a gate (opened once all N are spawned) keeps goroutines
	// from starting while the spawner is preempted, so that all N are alive
	// at once, as simul's and asyncio's tasks are.
	var wg sync.WaitGroup
	gate := make(chan struct{})
	c0 := cpuS()
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(seed int64) {
			<-gate
			// xorshift64*: a rand.Rand per goroutine would cost more than
			// the sleeps (a 4.9 KB state seeded per goroutine).
			x := uint64(seed)*0x9E3779B97F4A7C15 + 1
			for j := 0; j < k; j++ {
				x ^= x >> 12
				x ^= x << 25
				x ^= x >> 27
				u := float64((x*0x2545F4914F6CDD1D)>>11) / (1 << 53)
				time.Sleep(time.Duration(u * 1e6))
			}
			wg.Done()
		}(int64(i))
	}
	close(gate)
	wg.Wait()
	wall := time.Since(t0).Seconds()
	cpu := cpuS() - c0
	ops := n * k
	return res{"ops": ops, "wall_s": wall, "cpu_s": cpu,
		"cpu_ns_per_sleep": cpu * 1e9 / float64(ops)}
}

func main() {
	benches := map[string]func(int, int) res{
		"switch": bSwitch, "spawn": bSpawn, "parked": bParked, "timers": bTimers}
	if len(os.Args) != 4 || benches[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: core_go switch|spawn|parked|timers N K")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	n, _ := strconv.Atoi(os.Args[2])
	k, _ := strconv.Atoi(os.Args[3])
	r := benches[os.Args[1]](n, k)
	r["impl"] = "go"
	r["bench"] = os.Args[1]
	r["n"] = n
	r["k"] = k
	r["gomaxprocs"] = runtime.GOMAXPROCS(0)
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}
