"""A loopback stand-in for AWS Rekognition, Transcribe and Comprehend, answering in their JSON 1.1 wire format.

The answers come from Trove's own local models (libs/trove_ml), so the simulated cloud path gives real, searchable
results; S3 is moto's server, which Transcribe jobs read their media from and write their transcripts to.
"""
