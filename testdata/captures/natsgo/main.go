// Command natsgo is a nats.go client for record_nats.sh: it subscribes,
// publishes (a small message, one with headers, one of 100,000 bytes that
// spans TCP segments), makes a request that its own responder answers, and
// flushes (PING/PONG), against the nats-server at 127.0.0.1:14222.
package main

import (
	"bytes"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	nc, err := nats.Connect("nats://127.0.0.1:14222", nats.Name("sockscope-rec"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	got := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("framing.>", got); err != nil {
		log.Fatal(err)
	}
	if _, err := nc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo:"), m.Data...)) }); err != nil {
		log.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		log.Fatal(err)
	}
	nc.Publish("framing.small", []byte("hello nats"))
	hm := nats.NewMsg("framing.headers")
	hm.Header.Set("Trace-Id", "abc123")
	hm.Data = []byte("with headers")
	nc.PublishMsg(hm)
	nc.Publish("framing.big", bytes.Repeat([]byte("n"), 100000))
	for range 3 {
		select {
		case m := <-got:
			fmt.Println("got", m.Subject, len(m.Data))
		case <-time.After(5 * time.Second):
			log.Fatal("timeout")
		}
	}
	r, err := nc.Request("svc.echo", []byte("ping?"), 5*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reply", string(r.Data))
	nc.Flush()
}
