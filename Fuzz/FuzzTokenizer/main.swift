import FuzzDriver

runFuzzer { data, count in fuzzTokenizer(data, count) }
