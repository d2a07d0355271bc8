"""The AWS providers: Rekognition (vision), Transcribe (speech) and Comprehend (text), through aioboto3."""
