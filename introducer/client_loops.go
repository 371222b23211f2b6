package introducer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lafs/lafs/nurl"
)

// sleep waits d or until the client is closed; it reports whether the
// client goes on.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (c *Client) nextBackoff(b time.Duration) time.Duration {
	return min(2*b, c.cfg.maxBackoff)
}

// pollLoop polls for storage announcements until the client is closed.
// After a failure the next poll asks for the current state at once, so
// that reconnecting shows at once.
func (c *Client) pollLoop() {
	defer c.wg.Done()
	backoff := c.cfg.minBackoff
	var after uint64
	hasAfter := false
	for c.ctx.Err() == nil {
		start := time.Now()
		if !hasAfter {
			c.mu.Lock()
			c.lastAttempt, c.nextAttempt = start, time.Time{}
			c.mu.Unlock()
		}
		resp, err := c.poll(hasAfter, after)
		if c.ctx.Err() != nil {
			return
		}
		if err != nil {
			c.failed(err, true)
			c.firstOne.Do(func() { close(c.first) })
			hasAfter = false
			c.mu.Lock()
			c.nextAttempt = time.Now().Add(backoff)
			c.mu.Unlock()
			if !c.sleep(backoff) {
				return
			}
			backoff = c.nextBackoff(backoff)
			continue
		}
		backoff = c.cfg.minBackoff
		c.succeeded(resp.Instance)
		c.firstOne.Do(func() { close(c.first) })
		c.deliver(resp.Announcements)
		after, hasAfter = resp.Version, true
		if d := minPollInterval - time.Since(start); d > 0 && !c.sleep(d) {
			return
		}
	}
}

// failed records a failure; a failed poll also means disconnected.
func (c *Client) failed(err error, poll bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	c.lastErr = err
	if poll && c.connected {
		c.connected, c.since = false, time.Now()
		c.cfg.log.Warn("lost the introducer", "introducer", c.censored, "err", err)
	} else if poll {
		c.cfg.log.Debug("introducer unreachable", "introducer", c.censored, "err", err)
	}
}

// succeeded records a successful poll. On connecting, or on seeing a new
// instance of the introducer (which restarted and forgot), it has every
// announcement of ours published again.
func (c *Client) succeeded(instance []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.lastReceived = now
	if !c.connected || !bytes.Equal(instance, c.instance) {
		if !c.connected {
			c.connected, c.since, c.lastErr = true, now, nil
			c.cfg.log.Info("connected to the introducer", "introducer", c.censored)
		}
		c.instance = bytes.Clone(instance)
		c.gen++
		for k := range c.sent {
			c.sent[k] = false
		}
		c.wake()
	}
}

// deliver checks the announcements of a poll and passes on the new ones.
func (c *Client) deliver(anns []wireSigned) {
	rejected := 0
	var lastErr error
	for _, w := range anns {
		s := w.signed()
		c.mu.Lock()
		old, seen := c.known[s.Key]
		c.mu.Unlock()
		if seen && bytes.Equal(old.msg, s.Msg) {
			continue // the one we have; its signature is irrelevant
		}
		ann, seqnum, err := verifyRelayed(s, StorageService)
		if err != nil {
			rejected++
			lastErr = err
			continue
		}
		if seen && seqnum <= old.seqnum {
			continue // older or a replay, as Tahoe ignores them
		}
		c.mu.Lock()
		c.known[s.Key] = known{seqnum, bytes.Clone(s.Msg)}
		c.mu.Unlock()
		if c.cfg.onAnn != nil {
			c.cfg.onAnn(s.Key, ann)
		}
	}
	if rejected > 0 {
		c.mu.Lock()
		c.rejected += rejected
		c.mu.Unlock()
		c.cfg.log.Warn("introducer relayed announcements that do not verify; ignored them",
			"introducer", c.censored, "count", rejected, "err", lastErr)
	}
}

// verifyRelayed checks an announcement an introducer relayed for the
// service want: its signature, its form, its service name.
func verifyRelayed(s Signed, want string) (Announcement, int64, error) {
	ann, err := Verify(s)
	if err != nil {
		return nil, 0, err
	}
	service, seqnum, err := checkAnnouncement(ann)
	if err != nil {
		return nil, 0, err
	}
	if service != want {
		return nil, 0, fmt.Errorf("%w: service-name %q relayed to a subscriber of %q", ErrBadAnnouncement, service, want)
	}
	return ann, seqnum, nil
}

// publishLoop publishes our announcements whenever some are not yet
// published to the current instance of the introducer, and we are
// connected to it.
func (c *Client) publishLoop() {
	defer c.wg.Done()
	backoff := c.cfg.minBackoff
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		}
		for c.ctx.Err() == nil {
			gen, todo := c.unsent()
			if len(todo) == 0 {
				break
			}
			var err error
			for _, s := range todo {
				if err = c.publishOne(s); err != nil {
					var se *StatusError
					if errors.As(err, &se) && se.permanent() {
						// The introducer will never take it: say so, and
						// do not try again until something changes.
						c.markSent(gen, s)
						c.failed(fmt.Errorf("introducer refused our announcement: %w", err), false)
						c.cfg.log.Error("introducer refused our announcement", "introducer", c.censored, "err", err)
						err = nil
						continue
					}
					break
				}
				c.markSent(gen, s)
			}
			if err == nil {
				backoff = c.cfg.minBackoff
				continue
			}
			if c.ctx.Err() != nil {
				return
			}
			c.failed(err, false)
			if !c.sleep(backoff) {
				return
			}
			backoff = c.nextBackoff(backoff)
		}
	}
}

// unsent returns the announcements to publish, if connected.
func (c *Client) unsent() (int, []Signed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connected {
		return c.gen, nil
	}
	var out []Signed
	for service, s := range c.pub {
		if !c.sent[service] {
			out = append(out, s)
		}
	}
	return c.gen, out
}

// markSent records s as published, unless it was replaced or the
// introducer changed meanwhile.
func (c *Client) markSent(gen int, s Signed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	for service, p := range c.pub {
		if bytes.Equal(p.Msg, s.Msg) && p.Key == s.Key {
			c.sent[service] = true
		}
	}
}

// publishOne sends one announcement.
func (c *Client) publishOne(s Signed) error {
	body := encode(publishRequest{Announcement: toWire(s)})
	ctx, cancel := context.WithTimeout(c.ctx, requestSlack)
	defer cancel()
	var resp publishResponse
	err := c.call(ctx, http.MethodPost, pathPublish, body, func(b []byte) (err error) {
		resp, err = decodePublishResponse(b)
		return err
	})
	if err != nil {
		return err
	}
	switch resp.Outcome {
	case outcomeNew, outcomeUpdated, outcomeDuplicate:
		c.cfg.log.Debug("published to the introducer", "introducer", c.censored, "outcome", resp.Outcome)
	case outcomeStale:
		// Tahoe's introducer ignores such an announcement silently; we
		// say it, since it means our seqnum went back.
		c.cfg.log.Warn("introducer holds an announcement of ours with an equal or higher seqnum; ours was ignored",
			"introducer", c.censored)
	default:
		return fmt.Errorf("%w: publish outcome %q", ErrProtocol, resp.Outcome)
	}
	return nil
}

// poll makes one long poll for storage announcements.
func (c *Client) poll(hasAfter bool, after uint64) (pollResponse, error) {
	q := url.Values{"service": {StorageService}}
	wait := time.Duration(0)
	if hasAfter {
		wait = c.cfg.pollWait
		q.Set("after", strconv.FormatUint(after, 10))
		q.Set("wait", strconv.FormatFloat(wait.Seconds(), 'f', 3, 64))
	}
	ctx, cancel := context.WithTimeout(c.ctx, wait+requestSlack)
	defer cancel()
	var resp pollResponse
	err := c.call(ctx, http.MethodGet, pathAnnouncements+"?"+q.Encode(), nil, func(b []byte) (err error) {
		resp, err = decodePoll(b)
		return err
	})
	return resp, err
}

// call makes a request and decodes its 200 CBOR answer with decode.
func (c *Client) call(ctx context.Context, method, path string, body []byte, decode func([]byte) error) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Accept", mediaCBOR)
	req.Header.Set(headerSubscriber, c.subHdr)
	if body != nil {
		req.Header.Set("Content-Type", mediaCBOR)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("introducer %s: %w", c.nurl.Address(), err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	short, _, _ := strings.Cut(path, "?")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		msg := strings.TrimSpace(string(b))
		if !utf8.ValidString(msg) {
			msg = ""
		}
		return &StatusError{Method: method, Path: short, Code: resp.StatusCode, Message: msg}
	}
	if t, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); t != mediaCBOR {
		return fmt.Errorf("%w: %s %s: answer is %q, not CBOR", ErrProtocol, method, short, resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("introducer %s: %s %s: %w", c.nurl.Address(), method, short, err)
	}
	if len(b) > maxAnswer {
		return fmt.Errorf("%w: %s %s: answer longer than %d bytes", ErrProtocol, method, short, maxAnswer)
	}
	if err := decode(b); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrProtocol, method, short, err)
	}
	return nil
}

// parseNURL parses an introducer's NURL, telling a Foolscap fURL apart.
func parseNURL(s string) (nurl.NURL, error) {
	s = strings.TrimSpace(s)
	if (strings.HasPrefix(s, "pb://") || strings.HasPrefix(s, "pb+tor://")) && !strings.Contains(s, "#") {
		return nurl.NURL{}, fmt.Errorf("%w (%s)", ErrFoolscap, censorFURL(s))
	}
	// Accept a Foolscap-style "tcp:" hint before the host.
	if at := strings.Index(s, "@tcp:"); at >= 0 {
		s = s[:at+1] + s[at+len("@tcp:"):]
	}
	n, err := nurl.Parse(s)
	if err != nil {
		return n, fmt.Errorf("introducer %s: %w", censorFURL(s), err)
	}
	return n, nil
}

// censorFURL drops the swissnum of something that looks like a fURL.
func censorFURL(s string) string {
	rest, frag, _ := strings.Cut(s, "#")
	if i := strings.LastIndexByte(rest, '/'); i > strings.Index(rest, "://")+2 && strings.Contains(rest, "://") {
		rest = rest[:i+1] + "[censored]"
	}
	if frag != "" {
		rest += "#" + frag
	}
	return rest
}

// truncateUTF8 cuts s to at most n bytes at a character boundary.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
