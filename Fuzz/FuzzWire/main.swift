import FuzzDriver

runFuzzer { data, count in fuzzWire(data, count) }
