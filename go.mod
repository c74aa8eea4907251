module github.com/openhealthexchange/ohx

go 1.26
