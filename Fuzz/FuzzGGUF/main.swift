import FuzzDriver

runFuzzer { data, count in fuzzGGUF(data, count) }
