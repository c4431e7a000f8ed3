package main

import (
	"fmt"
	"os"
	"strings"
)

// validateClients checks the clients: list of the config file, e.g.
//
//	clients:
//	  - id: shop
//	    secret: a-random-value-of-at-least-32-characters
//	    redirect_uris: [https://shop.example/callback]
//	    min_acr: mfa
//	    logo_file: /etc/assent/shop.png
//	  - id: app
//	    public: true
//	    redirect_uris: [http://127.0.0.1:8765/callback]
func (c *config) validateClients(bad func(field, format string, a ...any)) {
	seen := map[string]bool{}
	for i := range c.Clients {
		where := fmt.Sprintf("clients[%d]", i)
		if f := c.Clients[i].LogoFile; f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				bad(where+".logo_file", "%v", err)
			}
			c.Clients[i].Logo = b
		}
		cl := c.Clients[i]
		if err := cl.Validate(where); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				field, msg, _ := strings.Cut(line, ": ")
				bad(field, "%s", msg)
			}
		}
		if seen[cl.ID] {
			bad(where+".id", "%q is declared twice", cl.ID)
		}
		seen[cl.ID] = true
	}
}
