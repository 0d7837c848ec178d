# The built function bundle (npm run bundle), zipped; the object is named by the archive's MD5 so that
# a code change uploads a new object and redeploys all four functions.

data "archive_file" "source" {
  type        = "zip"
  source_dir  = startswith(var.source_dir, "/") ? var.source_dir : abspath("${path.module}/${var.source_dir}")
  output_path = "${path.module}/.build/function-source.zip"
  # The same files give the same archive (and object name) whatever the machine's umask.
  output_file_mode = "0644"
}

resource "google_storage_bucket_object" "source" {
  name   = "function-source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.bucket["source"].name
  source = data.archive_file.source.output_path
}
