module github.com/ddb2pg/ddb2pg

go 1.26
