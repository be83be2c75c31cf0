// Command kafkago runs franz-go's in-process fake Kafka broker (kfake) and
// a franz-go client against it, for record_kafka.sh: metadata, produce
// (small records, and one of 100,000 bytes that spans TCP segments) and
// fetch until every record came back. Uncompressed, and API versions of
// Kafka 2.4 at most, which tshark 4.0's dissector knows.
package main

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

func main() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(19092), kfake.SeedTopics(1, "framing"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("framing"),
		kgo.ConsumeTopics("framing"), kgo.ClientID("sockscope-rec"), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxVersions(kversion.V2_4_0()))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	values := [][]byte{[]byte("hello kafka"), []byte("second"), bytes.Repeat([]byte("k"), 100000)}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: v}).FirstErr(); err != nil {
			log.Fatal(err)
		}
	}
	got := 0
	for got < len(values) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got++; fmt.Println("fetched", len(r.Value)) })
	}
}
