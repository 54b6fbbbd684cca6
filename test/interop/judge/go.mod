module kubepki/judge

go 1.24
