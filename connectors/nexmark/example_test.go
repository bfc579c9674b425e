package nexmark_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/riffle-streams/riffle/connectors/nexmark"
)

func ExampleGenerator() {
	g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: 1, NumEvents: 6, EventsPerSecond: 1000})
	if err != nil {
		log.Fatal(err)
	}
	var ev nexmark.Event
	for g.Next(&ev) {
		switch ev.Type {
		case nexmark.PersonEvent:
			fmt.Println(ev.EventTime(), "person", ev.Person.ID, ev.Person.Name, ev.Person.State)
		case nexmark.AuctionEvent:
			fmt.Println(ev.EventTime(), "auction", ev.Auction.ID, "by", ev.Auction.Seller, "in category", ev.Auction.Category)
		case nexmark.BidEvent:
			fmt.Println(ev.EventTime(), "bid on", ev.Bid.Auction, "by", ev.Bid.Bidder, "via", ev.Bid.Channel)
		}
	}
	// Output:
	// 1735689600000 person 1000 Sarah Spencer AZ
	// 1735689600001 auction 1000 by 1000 in category 13
	// 1735689600002 auction 1001 by 1003 in category 12
	// 1735689600003 auction 1002 by 1000 in category 11
	// 1735689600004 bid on 1000 by 1001 via Baidu
	// 1735689600005 bid on 1000 by 1001 via channel-232
}

func ExampleGenerator_Split() {
	g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{NumEvents: 10})
	if err != nil {
		log.Fatal(err)
	}
	// Three parallel sources deal out the ten events.
	for i, sub := range g.Split(3) {
		var ev nexmark.Event
		var numbers []int64
		for n := sub.Position(); sub.Next(&ev); n = sub.Position() {
			numbers = append(numbers, n)
		}
		fmt.Println("subtask", i, "events", numbers)
	}
	// Output:
	// subtask 0 events [0 3 6 9]
	// subtask 1 events [1 4 7]
	// subtask 2 events [2 5 8]
}

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "nexmark")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.avro")

	g, err := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: 7, NumEvents: 10_000})
	if err != nil {
		log.Fatal(err)
	}
	n, err := nexmark.WriteFile(path, g, nexmark.WriterOptions{Codec: nexmark.CodecZstandard})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", n, "events")

	r, err := nexmark.OpenFile(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var ev nexmark.Event
	bids := 0
	for r.Next(&ev) {
		if ev.Type == nexmark.BidEvent {
			bids++
		}
	}
	if err := r.Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("read", bids, "bids from a", r.Codec(), "file")
	// Output:
	// wrote 10000 events
	// read 9200 bids from a zstandard file
}
