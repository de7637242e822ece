package integration

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a TCP proxy of the tests' own between Gatehouse and its
// database, which a test can freeze (nothing passes either way and
// nothing is closed: a partition, a stalled failover, a frozen VM), slow
// down, or kill (every connection closed at once, as when the server
// restarts), and restore.
type faultProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	thawed chan struct{} // closed while traffic flows
	delay  time.Duration // added before each forwarded chunk
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// newFaultProxy forwards a loopback port to target until the test ends.
func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target, thawed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.thawed)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// addr is the proxy's host:port.
func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies src to dst chunk by chunk, holding each chunk while the
// proxy is frozen. A side that closes during a freeze is not told to the
// other until the freeze ends, as in a real partition.
func (p *faultProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			delay := p.waitThawed()
			if delay > 0 {
				time.Sleep(delay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.waitThawed()
	p.forget(src)
	p.forget(dst)
}

func (p *faultProxy) waitThawed() time.Duration {
	p.mu.Lock()
	ch, delay := p.thawed, p.delay
	p.mu.Unlock()
	<-ch
	return delay
}

func (p *faultProxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// freeze stops all traffic, on open and new connections alike.
func (p *faultProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default: // frozen already
	}
}

// restore lets traffic flow again at full speed.
func (p *faultProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = 0
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// slow delays every chunk forwarded from now on by d.
func (p *faultProxy) slow(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// kill closes every open connection, both sides, and returns how many
// client connections it cut.
func (p *faultProxy) kill() int {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns) / 2
}

func (p *faultProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.restore()
	if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		p.t.Logf("closing the fault proxy: %v", err)
	}
	p.kill()
	p.wg.Wait()
}
