// loadgen posts appeals to intake's POST /v1/appeals, either as fast as a fixed number of
// connections allow (-mode max) or at a fixed rate, open loop (-mode rate): a request is sent
// on schedule whether or not the earlier ones have been answered, so a slow server shows as
// latency, not as a lower offered rate. Compiled, so the load does not compete with the
// services for Python time.
//
// It runs on one OS thread by default (-procs): on the 2-core machine the services share, two
// took a third more CPU per request (0.32 against 0.25 ms at 500 requests/s) and woke twice as
// often (8,300 against 4,100 context switches a second), each wake-up preempting a service.
// Its own CPU time is in the summary (cpu_seconds), so a bench can show what it took.
//
// Bodies come from a JSON-lines file; "__ID__" in a body is replaced by a run-unique external
// id per request. Every request is written to -out as a CSV line:
// external_id,sent_unix_ns,answered_unix_ns,status,appeal_id
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	id       string
	sent     int64
	answered int64
	status   int
	appealID string
}

func main() {
	url := flag.String("url", "http://127.0.0.1:8000/v1/appeals", "intake's POST /v1/appeals")
	tokenFile := flag.String("token-file", "", "a file holding an integration's bearer token")
	bodiesFile := flag.String("bodies", "", "JSON lines, one submission each, __ID__ for the external id")
	mode := flag.String("mode", "rate", "max (closed loop) or rate (open loop)")
	rate := flag.Float64("rate", 100, "requests per second (mode rate)")
	connections := flag.Int("connections", 64, "connections (mode max); the in-flight cap (mode rate)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	prefix := flag.String("prefix", "lg", "external ids are <prefix>-<n>")
	out := flag.String("out", "", "CSV of every request")
	procs := flag.Int("procs", 1, "OS threads running Go code at once (GOMAXPROCS)")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)

	token, err := os.ReadFile(*tokenFile)
	check(err)
	bodies := readBodies(*bodiesFile)
	transport := &http.Transport{
		MaxIdleConns:        *connections,
		MaxIdleConnsPerHost: *connections,
		MaxConnsPerHost:     *connections,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	auth := "Bearer " + string(bytes.TrimSpace(token))

	results := make(chan result, 4096)
	var written sync.WaitGroup
	written.Add(1)
	var counts [6]int64 // 2xx 3xx 4xx 5xx error total
	go func() {
		defer written.Done()
		file, err := os.Create(*out)
		check(err)
		w := bufio.NewWriterSize(file, 1<<20)
		for r := range results {
			fmt.Fprintf(w, "%s,%d,%d,%d,%s\n", r.id, r.sent, r.answered, r.status, r.appealID)
		}
		check(w.Flush())
		check(file.Close())
	}()

	var next atomic.Int64
	post := func() {
		n := next.Add(1)
		id := fmt.Sprintf("%s-%d", *prefix, n)
		body := bytes.Replace(bodies[int(n)%len(bodies)], []byte("__ID__"), []byte(id), 1)
		request, err := http.NewRequest(http.MethodPost, *url, bytes.NewReader(body))
		check(err)
		request.Header.Set("Content-Type", "application/json")
		request.Header.Set("Authorization", auth)
		sent := time.Now().UnixNano()
		response, err := client.Do(request)
		r := result{id: id, sent: sent}
		if err != nil {
			r.answered = time.Now().UnixNano()
			atomic.AddInt64(&counts[4], 1)
		} else {
			data, _ := io.ReadAll(response.Body)
			response.Body.Close()
			r.answered = time.Now().UnixNano()
			r.status = response.StatusCode
			var created struct {
				AppealID string `json:"appeal_id"`
			}
			if json.Unmarshal(data, &created) == nil {
				r.appealID = created.AppealID
			}
			atomic.AddInt64(&counts[response.StatusCode/100-2], 1)
		}
		atomic.AddInt64(&counts[5], 1)
		results <- r
	}

	started := time.Now()
	end := started.Add(*duration)
	var inFlight sync.WaitGroup
	var dropped int64
	if *mode == "max" {
		for c := 0; c < *connections; c++ {
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				for time.Now().Before(end) {
					post()
				}
			}()
		}
		inFlight.Wait()
	} else {
		// Open loop: the n-th request is due at start + n/rate; a cap on requests in flight
		// keeps a stalled server from exhausting sockets (skipped sends are counted).
		slots := make(chan struct{}, *connections)
		interval := time.Duration(float64(time.Second) / *rate)
		for n := int64(0); ; n++ {
			due := started.Add(time.Duration(n) * interval)
			if !due.Before(end) {
				break
			}
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			select {
			case slots <- struct{}{}:
				inFlight.Add(1)
				go func() {
					defer inFlight.Done()
					defer func() { <-slots }()
					post()
				}()
			default:
				dropped++
			}
		}
	}
	sending := time.Since(started)
	inFlight.Wait()
	close(results)
	written.Wait()
	total := atomic.LoadInt64(&counts[5])
	var usage syscall.Rusage
	check(syscall.Getrusage(syscall.RUSAGE_SELF, &usage))
	cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	fmt.Printf(
		"{\"sent\": %d, \"seconds\": %.3f, \"rate\": %.1f, \"ok\": %d, \"client_errors\": %d, "+
			"\"server_errors\": %d, \"failed\": %d, \"skipped\": %d, \"cpu_seconds\": %.3f}\n",
		total, sending.Seconds(), float64(total)/sending.Seconds(), counts[0], counts[2], counts[3],
		counts[4], dropped, cpu.Seconds(),
	)
}

func readBodies(path string) [][]byte {
	file, err := os.Open(path)
	check(err)
	defer file.Close()
	var bodies [][]byte
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<24)
	for scanner.Scan() {
		if line := bytes.TrimSpace(scanner.Bytes()); len(line) > 0 {
			bodies = append(bodies, append([]byte(nil), line...))
		}
	}
	check(scanner.Err())
	if len(bodies) == 0 {
		check(fmt.Errorf("no bodies in %s", path))
	}
	return bodies
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
