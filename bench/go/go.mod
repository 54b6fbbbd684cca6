module kubepki/bench/go

go 1.24
