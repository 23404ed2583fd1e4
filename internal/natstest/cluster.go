package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a JetStream cluster of embedded servers, each on a port and with a store of its
// own that stay the same for the whole test, so that a node shut down ([Cluster.Stop]) can be
// started again in its place ([Cluster.Start]) and rejoin with its data.
type Cluster struct {
	tb                  testing.TB
	name                string
	ports, clusterPorts []int
	dirs                []string
	routes              string
	// Servers holds the running nodes by index; a node that is down is nil.
	Servers []*server.Server
}

// RunCluster starts a cluster of n nodes on 127.0.0.1, each with routes to all the others, and
// waits until it is whole (see [Cluster.Whole]); it fails the test if that takes more than a
// minute. The nodes shut down when the test ends.
func RunCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	ports := freePorts(tb, 2*n)
	c := &Cluster{tb: tb, name: "ingest", ports: ports[:n], clusterPorts: ports[n:], Servers: make([]*server.Server, n)}
	routes := make([]string, n)
	for i := range n {
		c.dirs = append(c.dirs, tb.TempDir())
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", c.clusterPorts[i])
	}
	c.routes = strings.Join(routes, ",")
	for i := range n {
		c.Start(i)
	}
	c.WaitWhole(time.Minute)
	return c
}

// Start starts node i, which must be down, on its port and store.
func (c *Cluster) Start(i int) {
	c.tb.Helper()
	c.Servers[i] = RunServer(c.tb, func(o *server.Options) {
		o.ServerName = fmt.Sprintf("%s-%d", c.name, i)
		o.Port = c.ports[i]
		o.StoreDir = c.dirs[i]
		o.Cluster = server.ClusterOpts{Name: c.name, Host: "127.0.0.1", Port: c.clusterPorts[i]}
		o.Routes = server.RoutesFromStr(c.routes)
	})
}

// Stop shuts node i down and waits until it is gone.
func (c *Cluster) Stop(i int) {
	s := c.Servers[i]
	c.Servers[i] = nil
	s.Shutdown()
	s.WaitForShutdown()
}

// Whole reports whether every node runs, a JetStream meta leader knows them all as peers, and
// every node's meta state is current.
func (c *Cluster) Whole() bool {
	var leader *server.Server
	for _, s := range c.Servers {
		if s == nil {
			return false
		}
		if s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil || len(leader.JetStreamClusterPeers()) != len(c.Servers) {
		return false
	}
	for _, s := range c.Servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

// WaitWhole polls [Cluster.Whole] until it holds, failing the test after timeout.
func (c *Cluster) WaitWhole(timeout time.Duration) {
	c.tb.Helper()
	deadline := time.Now().Add(timeout)
	for !c.Whole() {
		if time.Now().After(deadline) {
			c.tb.Fatalf("the NATS cluster was not whole (every node up, known and current) within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URLs is the comma-separated client URLs of every node, as NATS_URL takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.ports))
	for i, p := range c.ports {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", p)
	}
	return strings.Join(urls, ",")
}

// freePorts returns n distinct ports that were free a moment ago on 127.0.0.1. The cluster
// ports must be known before any node starts, since each node's routes name all of them.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	var lns []net.Listener
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("reserving a port: %v", err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}
