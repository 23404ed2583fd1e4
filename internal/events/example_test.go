package events_test

import (
	"errors"
	"fmt"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

func ExampleDecode() {
	rules := events.Rules{DefaultRepositoryID: "repo-1"}
	body := []byte(`{
		"specversion": "1.0",
		"id": "5f0c6a1e-8d7b-4b7e-9a51-0c2f3d1e9b44",
		"source": "pim://akeneo/prod",
		"type": "asset.published",
		"data": {
			"src": "https://media.example-pim.com/exports/sku-1042/front.jpg?X-Amz-Signature=s3cr3t",
			"name": "sku-1042-front",
			"tags": ["sku-1042", "spring-2027"]
		}
	}`)
	p, err := events.Decode("assets.published.akeneo", nil, body, rules)
	if err != nil {
		fmt.Println("invalid:", err)
		return
	}
	fmt.Println(p.Mode, p.SourceToken, p.Key)
	fmt.Println(p.Asset.Name, p.Asset.Filename, p.Asset.Type, p.Asset.AssetRepositoryID, p.Asset.Tags)
	fmt.Println(redact.URL(p.Asset.Src))

	// An invalid event: the error names the field, never the URL.
	_, err = events.Decode("assets.published.akeneo", nil,
		[]byte(`{"specversion":"1.0","id":"1","source":"pim://akeneo/prod","type":"asset.published",
		"data":{"src":"https://10.0.0.1/a.jpg?sig=s3cr3t","name":"n"}}`), rules)
	var invalid *events.InvalidEventError
	fmt.Println(errors.As(err, &invalid), invalid.Field, "|", err)
	// Output:
	// structured akeneo d358e4309f025f096a9d7249c418d63ef523d4683281cd59c9abd0ee31b1daf4
	// sku-1042-front front.jpg IMAGE repo-1 [sku-1042 spring-2027]
	// https://media.example-pim.com/exports/sku-1042/front.jpg
	// true data.src | data.src: host must be a DNS name, not an IP address
}
