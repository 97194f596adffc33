import FuzzDriver

runFuzzer { data, count in fuzzWriters(data, count) }
