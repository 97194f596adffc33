import FuzzDriver

loadFuzzTokenizers()
runFuzzer { data, count in fuzzTokenizer(data, count) }
