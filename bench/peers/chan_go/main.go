// chan_go - the Go peer of the channel benchmark (bench/run-cores.sh): N
// items through a buffered channel of capacity CAP from one goroutine to
// another; run with GOMAXPROCS=2 (two threads, as simul's two loops) and
// GOMAXPROCS=1 (as one loop). The receiver checks the order. Prints the
// same JSON keys as bench/cores.c.
//
//	chan_go N CAP
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6 +
		float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: chan_go N CAP")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[1])
	c, _ := strconv.Atoi(os.Args[2])
	ch := make(chan uintptr, c)
	done := make(chan bool)
	t0 := time.Now()
	c0 := cpuNow()
	go func() {
		for i := 1; i <= n; i++ {
			ch <- uintptr(i)
		}
	}()
	var wall, cpu float64
	go func() {
		ok := true
		for i := 1; i <= n; i++ {
			if v := <-ch; v != uintptr(i) {
				ok = false
			}
		}
		wall = time.Since(t0).Seconds()
		cpu = cpuNow() - c0
		done <- ok
	}()
	if !<-done {
		fmt.Fprintln(os.Stderr, "chan_go: items out of order")
		os.Exit(1)
	}
	fmt.Printf("{\"items\": %d, \"wall_s\": %.6f, \"cpu_s\": %.6f, \"items_per_s\": %.0f, \"ns_per_item\": %.1f}\n",
		n, wall, cpu, float64(n)/wall, wall*1e9/float64(n))
}
