module github.com/sfp-dev/sfp/pkg/client

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/google/uuid v1.3.0
	github.com/supabase-community/gotrue-go v1.2.0
	github.com/supabase-community/postgrest-go v0.0.11
	go.uber.org/goleak v1.3.0
)

require github.com/tomnomnom/linkheader v0.0.0-20180905144013-02ca5825eb80 // indirect
