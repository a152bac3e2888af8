module github.com/ferryd/ferry/go-client

go 1.26.8
