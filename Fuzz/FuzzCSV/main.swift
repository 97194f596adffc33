import FuzzDriver

runFuzzer { data, count in fuzzCSV(data, count) }
