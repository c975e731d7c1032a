// Coordination benchmarks for Go: the peer of bench/coordination.c.
//
// Usage:  GOMAXPROCS=1 coord_go BENCH N
//
// Prints one JSON line with the keys bench/coordination.c prints. Run with
// GOMAXPROCS=1 (one thread runs goroutines, as one thread runs a simul
// loop); the program also sets it.
//
//	queue N     one goroutine sends N ints into a channel of capacity 128,
//	            another receives them (Go's buffered channel = a bounded
//	            queue).                                   -> ns per item
//	pingpong N  two goroutines, two unbuffered channels, N round trips.
//	            (Go has no unbounded channel; unbuffered is its idiom for
//	            ping-pong.)                               -> ns per round trip
//	sem N       10,000 goroutines contend for a semaphore of 100 (a channel
//	            of capacity 100: send = acquire, receive = release); each
//	            acquires, runtime.Gosched()s once while holding it, releases,
//	            until N acquisitions were made in all.   -> ns per pair
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const semTasks = 10000
const semValue = 100

func bQueue(n int) {
	ch := make(chan int, 128)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		wg.Done()
	}()
	go func() {
		for i := 0; i < n; i++ {
			if v := <-ch; v != i {
				panic("order")
			}
		}
		wg.Done()
	}()
	wg.Wait()
}

func bPingPong(n int) {
	q1, q2 := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		for i := 0; i < n; i++ {
			q1 <- i
			if <-q2 != i {
				panic("order")
			}
		}
		wg.Done()
	}()
	go func() {
		for i := 0; i < n; i++ {
			q2 <- <-q1
		}
		wg.Done()
	}()
	wg.Wait()
}

func bSem(n int) int {
	per := n / semTasks
	sem := make(chan struct{}, semValue)
	var wg sync.WaitGroup
	wg.Add(semTasks)
	for t := 0; t < semTasks; t++ {
		go func() {
			for i := 0; i < per; i++ {
				sem <- struct{}{}
				runtime.Gosched()
				<-sem
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return per * semTasks
}

func main() {
	runtime.GOMAXPROCS(1)
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: coord_go queue|pingpong|sem N")
		os.Exit(2)
	}
	b := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "bad N")
		os.Exit(2)
	}
	t0 := time.Now()
	switch b {
	case "queue":
		bQueue(n)
	case "pingpong":
		bPingPong(n)
	case "sem":
		n = bSem(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown benchmark", b)
		os.Exit(2)
	}
	s := time.Since(t0).Seconds()
	fmt.Printf("{\"bench\": \"%s\", \"n\": %d, \"seconds\": %.6f, \"ns_per_op\": %.2f}\n",
		b, n, s, s*1e9/float64(n))
}
