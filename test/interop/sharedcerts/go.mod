module kubepki/sharedcerts

go 1.19
