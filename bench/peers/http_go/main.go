// http_go - the Go peer of the HTTP fetch benchmark: net/http's client
// fetching every URL of a list with W workers (goroutines) over one
// Transport limited to W connections per host, bodies read and discarded
// (io.Copy to io.Discard). Run with GOMAXPROCS=1 (bench/run-http.sh sets
// it). Prints one JSON line: pages, errors, bytes, seconds (from the first
// request to the last body's end).
//
//	http_go URLS_FILE [W]    W defaults to 50
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: http_go URLS_FILE [WORKERS]")
		os.Exit(2)
	}
	workers := 50
	if len(os.Args) > 2 {
		workers, _ = strconv.Atoi(os.Args[2])
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var urls []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if u := sc.Text(); u != "" {
			urls = append(urls, u)
		}
	}
	f.Close()

	tr := &http.Transport{
		MaxConnsPerHost:     workers,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
	}
	client := &http.Client{Transport: tr}
	var next, pages, errors, bytes int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(len(urls)) {
					return
				}
				resp, err := client.Get(urls[i])
				if err != nil {
					atomic.AddInt64(&errors, 1)
					continue
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					atomic.AddInt64(&errors, 1)
					continue
				}
				atomic.AddInt64(&pages, 1)
				atomic.AddInt64(&bytes, n)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("{\"pages\": %d, \"errors\": %d, \"bytes\": %d, \"seconds\": %.4f}\n",
		pages, errors, bytes, secs)
}
