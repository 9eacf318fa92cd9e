module appeals/bench/pipeline

go 1.26
