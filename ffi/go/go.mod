module github.com/trailseal/trailseal/ffi/go

go 1.21
