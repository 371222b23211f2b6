// Command loadgen sends GET requests at a fixed concurrency and reports
// the rate and latencies, as hey or ab would: the load of the benchmark
// scripts (scripts/bench-load), with nothing to install.
//
//	go run ./internal/loadgen -n 10000 -c 200 URL [URL...]
//
// With several URLs, request i goes to URL i mod len(URLs). Every answer
// must be 200 and, with -size, have that many bytes; otherwise it exits 1.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n := flag.Int("n", 10000, "requests in all")
	c := flag.Int("c", 200, "requests at once")
	size := flag.Int64("size", -1, "the body size every answer must have (-1: any)")
	flag.Parse()
	urls := flag.Args()
	if len(urls) == 0 {
		fmt.Fprintln(os.Stderr, "usage: loadgen [-n N] [-c C] [-size BYTES] URL...")
		os.Exit(2)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: true}}
	var next, failed atomic.Int64
	lat := make([]time.Duration, *n)
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				t0 := time.Now()
				err := get(hc, urls[i%len(urls)], *size)
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))].Seconds() * 1000 }
	fmt.Printf("requests %d concurrency %d seconds %.2f rate %.1f p50_ms %.1f p99_ms %.1f max_ms %.1f failed %d\n",
		*n, *c, took.Seconds(), float64(*n)/took.Seconds(), pct(0.5), pct(0.99), pct(1), failed.Load())
	if failed.Load() > 0 {
		fmt.Fprintln(os.Stderr, "first failure:", firstErr.Load())
		os.Exit(1)
	}
}

func get(hc *http.Client, url string, size int64) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("%s: %d bytes, want %d", url, n, size)
	}
	return nil
}
