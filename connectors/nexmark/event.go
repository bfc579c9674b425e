package nexmark

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"
)

// schemaText is event.avsc, the Avro schema of one event, byte for byte as
// published in the riffle Nexmark specification.
//
//go:embed event.avsc
var schemaText string

var (
	// eventSchema is schemaText parsed into a private cache, so that other
	// schemas named nexmark.Event (a file's writer schema, say) never replace
	// it in hamba's process-wide default cache.
	eventSchema = mustParseSchema(schemaText)

	// compactSchemaText is schemaText without insignificant white space. It is
	// what Writer stores in a file header: unlike hamba's default (the Parsing
	// Canonical Form) it keeps the doc, the defaults and the timestamp-millis
	// logical types, so other Avro implementations see the schema as published.
	compactSchemaText = mustCompact(schemaText)
)

func mustParseSchema(text string) avro.Schema {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		panic(fmt.Sprintf("nexmark: embedded event.avsc does not parse: %v", err))
	}
	return s
}

func mustCompact(text string) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(text)); err != nil {
		panic(fmt.Sprintf("nexmark: embedded event.avsc is not JSON: %v", err))
	}
	return b.Bytes()
}

// Schema returns the Avro schema of an event (event.avsc). Event, Person,
// Auction and Bid encode and decode with it through github.com/hamba/avro/v2.
// The returned schema is shared: do not modify it.
func Schema() avro.Schema { return eventSchema }

// SchemaText returns event.avsc, the JSON text of the schema Schema returns.
func SchemaText() string { return schemaText }

// EventType says which record of an Event is set. Its values are those of the
// schema's event_type field.
type EventType int32

// The event types, numbered as in event.avsc.
const (
	PersonEvent  EventType = 0
	AuctionEvent EventType = 1
	BidEvent     EventType = 2
)

// String returns "person", "auction", "bid", or "EventType(n)" for other values.
func (t EventType) String() string {
	switch t {
	case PersonEvent:
		return "person"
	case AuctionEvent:
		return "auction"
	case BidEvent:
		return "bid"
	}
	return fmt.Sprintf("EventType(%d)", int32(t))
}

// Event is one Nexmark event: exactly one of Person, Auction and Bid is set,
// the one Type names. Its shape is the record nexmark.Event of event.avsc.
//
// Events filled by Generator.Next, Generator.EventAt and Reader.Next point to
// records owned by the generator or reader, which overwrites them on its next
// call: copy the record (b := *ev.Bid) or use Clone to keep it longer. The
// strings inside are immutable and may be kept as they are.
type Event struct {
	Type    EventType `avro:"event_type" json:"event_type"`
	Person  *Person   `avro:"person" json:"person"`
	Auction *Auction  `avro:"auction" json:"auction"`
	Bid     *Bid      `avro:"bid" json:"bid"`
}

// Person is a new user of the auction site (record nexmark.Person).
// DateTime is the registration time in milliseconds since the Unix epoch; it is
// the event time of the event.
type Person struct {
	ID           int64  `avro:"id" json:"id"`
	Name         string `avro:"name" json:"name"`
	EmailAddress string `avro:"emailAddress" json:"emailAddress"`
	CreditCard   string `avro:"creditCard" json:"creditCard"`
	City         string `avro:"city" json:"city"`
	State        string `avro:"state" json:"state"`
	DateTime     int64  `avro:"dateTime" json:"dateTime"`
	Extra        string `avro:"extra" json:"extra"`
}

// Auction is a new item for sale (record nexmark.Auction). DateTime (the event
// time) and Expires are milliseconds since the Unix epoch; Seller is a
// Person.ID, Category is in 10..14 for generated auctions.
type Auction struct {
	ID          int64  `avro:"id" json:"id"`
	ItemName    string `avro:"itemName" json:"itemName"`
	Description string `avro:"description" json:"description"`
	InitialBid  int64  `avro:"initialBid" json:"initialBid"`
	Reserve     int64  `avro:"reserve" json:"reserve"`
	DateTime    int64  `avro:"dateTime" json:"dateTime"`
	Expires     int64  `avro:"expires" json:"expires"`
	Seller      int64  `avro:"seller" json:"seller"`
	Category    int64  `avro:"category" json:"category"`
	Extra       string `avro:"extra" json:"extra"`
}

// Bid is a bid on an auction (record nexmark.Bid). Auction is an Auction.ID,
// Bidder a Person.ID, Price is in cents, DateTime (the event time) is
// milliseconds since the Unix epoch.
type Bid struct {
	Auction  int64  `avro:"auction" json:"auction"`
	Bidder   int64  `avro:"bidder" json:"bidder"`
	Price    int64  `avro:"price" json:"price"`
	Channel  string `avro:"channel" json:"channel"`
	URL      string `avro:"url" json:"url"`
	DateTime int64  `avro:"dateTime" json:"dateTime"`
	Extra    string `avro:"extra" json:"extra"`
}

// EventTime returns the event time of e in milliseconds since the Unix epoch:
// the DateTime of the record e.Type names. It panics if e.Type is not a known
// type or its record is nil; Validate reports such events as errors instead.
func (e *Event) EventTime() int64 {
	switch e.Type {
	case PersonEvent:
		return e.Person.DateTime
	case AuctionEvent:
		return e.Auction.DateTime
	case BidEvent:
		return e.Bid.DateTime
	}
	panic(fmt.Sprintf("nexmark: EventTime of an event of type %v", e.Type))
}

// Validate returns an error wrapping ErrInvalidEvent unless exactly one record
// of e is set and it is the one e.Type names.
func (e *Event) Validate() error {
	set := 0
	if e.Person != nil {
		set++
	}
	if e.Auction != nil {
		set++
	}
	if e.Bid != nil {
		set++
	}
	var ok bool
	switch e.Type {
	case PersonEvent:
		ok = e.Person != nil
	case AuctionEvent:
		ok = e.Auction != nil
	case BidEvent:
		ok = e.Bid != nil
	default:
		return fmt.Errorf("%w: unknown event_type %d", ErrInvalidEvent, int32(e.Type))
	}
	if !ok || set != 1 {
		return fmt.Errorf("%w: event_type %d (%v) with %d records set (person %t, auction %t, bid %t)",
			ErrInvalidEvent, int32(e.Type), e.Type, set, e.Person != nil, e.Auction != nil, e.Bid != nil)
	}
	return nil
}

// Clone returns a copy of e whose records are newly allocated, so that it stays
// valid after the generator or reader that filled e moves on. Strings are
// shared: they are immutable.
func (e *Event) Clone() Event {
	c := Event{Type: e.Type}
	if e.Person != nil {
		p := *e.Person
		c.Person = &p
	}
	if e.Auction != nil {
		a := *e.Auction
		c.Auction = &a
	}
	if e.Bid != nil {
		b := *e.Bid
		c.Bid = &b
	}
	return c
}
